"""Stored sessions: ``sessions/{id}`` plus the history in ``sessions/{id}/chunks/{n}``.

History is pydantic-ai's own serialized form (``ModelMessagesTypeAdapter`` JSON), appended one
segment per run: each segment (a JSON array of that run's new messages) is split into chunk
documents of at most ``SESSION_CHUNK_BYTES``, so histories far beyond Firestore's 1 MiB
document limit work. Appends run in a transaction on the session's ``revision``: chunks are
*created* at the current end (never overwritten), so two writers can never lose a message.

A sync/stream run holds the session's lease (``lease_run_id``, ``lease_expires_at``) while it
runs; a second one gets 409 until it is released or expires.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import db
from shared.errors import Conflict, NotFound
from shared.pagination import newest_first
from shared.sessions.schemas import SessionRecord
from shared.settings import get_settings

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

_log = logging.getLogger(__name__)

SESSIONS = "sessions"
CHUNKS = "chunks"
CHUNK_ID_WIDTH = 8


def session_ref(session_id: str) -> Any:
    return db.collection(SESSIONS).document(session_id)


def _chunk_ref(session_id: str, index: int) -> Any:
    return session_ref(session_id).collection(CHUNKS).document(str(index).zfill(CHUNK_ID_WIDTH))


def not_found(session_id: str) -> NotFound:
    return NotFound(f"session '{session_id}' not found", details={"session_id": session_id})


def _record(session_id: str, data: dict[str, Any]) -> SessionRecord:
    return SessionRecord.model_validate({**data, "id": session_id})


def _doc(record: SessionRecord) -> dict[str, Any]:
    return record.model_dump(mode="python", exclude={"id"})


def load_session(session_id: str) -> SessionRecord | None:
    return db.load(SESSIONS, session_id, SessionRecord)


def get_session(session_id: str, owner_id: str) -> SessionRecord:
    record = load_session(session_id)
    if record is None or record.owner_id != owner_id:
        raise not_found(session_id)
    return record


def create_session(owner_id: str, agent_id: str, title: str | None) -> SessionRecord:
    now = datetime.now(UTC)
    record = SessionRecord(
        id=uuid.uuid4().hex, agent_id=agent_id, owner_id=owner_id, title=title, created_at=now, updated_at=now
    )
    db.create(session_ref(record.id), _doc(record))
    return record


def list_sessions(
    owner_id: str,
    *,
    agent_id: str | None,
    limit: int,
    cursor: str | None,
    agent_ids: frozenset[str] | None = None,
) -> tuple[list[SessionRecord], str | None]:
    """The owner's sessions, newest first (indexes: owner_id[, agent_id], created_at desc);
    ``agent_ids``: only sessions with these agents (a token restricted to them)."""
    return newest_first(
        db.collection(SESSIONS),
        equals={"owner_id": owner_id, "agent_id": agent_id},
        limit=limit,
        cursor=cursor,
        parse=_record,
        position=lambda session: (session.created_at, session.id),
        one_of=("agent_id", sorted(agent_ids)) if agent_ids is not None and agent_id is None else None,
    )


def _owned_in(tx: db.Tx, session_id: str, owner_id: str) -> SessionRecord:
    """The owner's session read in ``tx``; anyone else's (or a missing one) is 404."""
    snap = tx.get(session_ref(session_id))
    data = snap.to_dict() if snap.exists else None
    record = _record(session_id, data) if data else None
    if record is None or record.owner_id != owner_id:
        raise not_found(session_id)
    return record


def delete_session(session_id: str, owner_id: str) -> None:
    """Delete a session and its history; 409 while a run holds it."""
    now = datetime.now(UTC)

    def mark(tx: db.Tx) -> None:
        record = _owned_in(tx, session_id, owner_id)
        if record.busy_at(now):
            raise Conflict("the session has a run in progress", code="session_busy")
        tx.delete(session_ref(session_id))

    if not db.is_valid_doc_id(session_id):
        raise not_found(session_id)
    db.run_transaction(mark)
    # The chunks are unreachable once the session document is gone; remove them too.
    while True:
        snaps = db.query(session_ref(session_id).collection(CHUNKS).limit(300))
        if not snaps:
            return
        refs = [s.reference for s in snaps]

        def build(batch: db.CountingWrites, refs: list[Any] = refs) -> None:
            for ref in refs:
                batch.delete(ref)

        db.commit_batch(build)


# -- lease ----------------------------------------------------------------------------------


def acquire_lease(
    session_id: str, owner_id: str, agent_id: str, run_id: str, seconds: float
) -> SessionRecord:
    """Hold the session for ``run_id``: 404 if not the caller's, 409 if another run holds it."""
    if not db.is_valid_doc_id(session_id):
        raise not_found(session_id)
    now = datetime.now(UTC)

    def acquire(tx: db.Tx) -> SessionRecord:
        record = _owned_in(tx, session_id, owner_id)
        if record.agent_id != agent_id:
            from shared.errors import ValidationFailed

            raise ValidationFailed.field("session_id", "the session belongs to a different agent")
        if record.busy_at(now) and record.lease_run_id != run_id:
            if record.lease_requires_action:
                raise Conflict(
                    "the session's last run waits for a decision on a tool call; decide or cancel it first",
                    code="session_requires_action",
                    details={"session_id": session_id, "run_id": record.lease_run_id},
                )
            raise Conflict(
                "the session already has a run in progress",
                code="session_busy",
                details={"session_id": session_id},
            )
        expires = now + timedelta(seconds=seconds)
        tx.update(
            session_ref(session_id),
            {"lease_run_id": run_id, "lease_expires_at": expires, "lease_requires_action": False},
        )
        record.lease_run_id, record.lease_expires_at = run_id, expires
        return record

    return db.run_transaction(acquire)


def release_lease(session_id: str, run_id: str) -> None:
    """Release the lease if ``run_id`` still holds it."""

    def release(tx: db.Tx) -> None:
        snap = tx.get(session_ref(session_id))
        data = snap.to_dict() if snap.exists else None
        if data and data.get("lease_run_id") == run_id:
            tx.update(
                session_ref(session_id),
                {"lease_run_id": None, "lease_expires_at": None, "lease_requires_action": False},
            )

    db.run_transaction(release)


def hold_for_approval(session_id: str, run_id: str, until: datetime) -> None:
    """Keep the session held by ``run_id`` while it waits for a decision (no instance renews it)."""

    def hold(tx: db.Tx) -> None:
        snap = tx.get(session_ref(session_id))
        data = snap.to_dict() if snap.exists else None
        if data and data.get("lease_run_id") in (run_id, None):
            tx.update(
                session_ref(session_id),
                {"lease_run_id": run_id, "lease_expires_at": until, "lease_requires_action": True},
            )

    db.run_transaction(hold)


# -- history --------------------------------------------------------------------------------


def load_history_json(session_id: str) -> list[bytes]:
    """The stored segments (each a JSON array of messages), oldest first."""
    snaps = db.query(session_ref(session_id).collection(CHUNKS).order_by("__name__"))
    segments: dict[int, list[tuple[int, bytes]]] = {}
    for snap in snaps:
        doc = snap.to_dict() or {}
        segments.setdefault(int(doc["segment"]), []).append((int(doc["part"]), bytes(doc["data"])))
    return [b"".join(data for _, data in sorted(parts)) for _, parts in sorted(segments.items())]


def load_history(session_id: str) -> list[ModelMessage]:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    messages: list[ModelMessage] = []
    for segment in load_history_json(session_id):
        messages.extend(ModelMessagesTypeAdapter.validate_json(segment))
    return messages


def append_history(session_id: str, messages_json: bytes, message_count: int, expected_revision: int) -> int:
    """Append one run's messages; returns the new revision.

    If another writer appended since ``expected_revision`` was read, this segment still goes
    after theirs (nothing is overwritten or lost); the mismatch is logged.
    """
    size = get_settings().session_chunk_bytes
    pieces = [messages_json[i : i + size] for i in range(0, len(messages_json), size)] or [b"[]"]
    now = datetime.now(UTC)

    def append(tx: db.Tx) -> int:
        snap = tx.get(session_ref(session_id))
        data = snap.to_dict() if snap.exists else None
        if not data:
            raise not_found(session_id)
        record = _record(session_id, data)
        if record.revision != expected_revision:
            _log.warning(
                "session changed since it was loaded; appending after the other writer",
                extra={"session_id": session_id},
            )
        segment = record.revision + 1
        for part, piece in enumerate(pieces):
            tx.create(
                _chunk_ref(session_id, record.chunk_count + part),
                {"segment": segment, "part": part, "data": piece, "created_at": now},
            )
        tx.update(
            session_ref(session_id),
            {
                "revision": segment,
                "chunk_count": record.chunk_count + len(pieces),
                "message_count": record.message_count + message_count,
                "updated_at": now,
            },
        )
        return segment

    return db.run_transaction(append)
