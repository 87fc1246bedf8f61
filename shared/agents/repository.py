"""Stored agents: Firestore ``agents/{id}`` (current version, ``deleted`` flag) and every
version in ``agents/{id}/versions/{n}``.

An owner's agent names are unique: ``agent_names/{owner}_{sha256(name)}`` → ``{agent_id}``
is *created* in the same commit as the agent (create, rename) and deleted with it (delete,
rename), so of two concurrent requests for one name exactly one commits (``shared.agents.names``).

Version writes happen in the same transaction as the agent document update, and a version
document is *created* (never overwritten), so concurrent updates can never lose a version.
Access: the owner reads and writes; admins may read (not write, not run); everyone else
gets 404, exactly as for an agent that does not exist.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared import db
from shared.agents.definition import AgentDefinition
from shared.agents.names import (
    AGENTS,
    agent_ref,
    check_name_free,
    claiming,
    name_doc,
    name_ref,
    name_taken,
    release_name,
)
from shared.errors import Conflict, Forbidden, NotFound
from shared.pagination import decode_cursor, encode_cursor, newest_first

if TYPE_CHECKING:
    from shared.auth.principal import Principal

VERSIONS = "versions"
IDEMPOTENCY = "idempotency"
_IDEMPOTENCY_SCOPE = "agents.create"
# Keys are remembered this long (Firestore TTL on ``expires_at`` removes them later).
IDEMPOTENCY_TTL = timedelta(hours=24)


class AgentSource(BaseModel):
    """Where an installed agent came from (a marketplace listing at one version)."""

    listing_id: str
    listing_version: int
    # The tools the publisher's definition asks approval for: an installed copy may require
    # approval for more tools, never for fewer (``shared.agents.validation.publisher_approval_errors``).
    approval_tools: list[str] = Field(default_factory=list[str])
    # The installer's registrations of the MCP servers the listing uses: connect each one
    # (PUT /mcp-servers/{id}/credential or the OAuth flow) before running the agent.
    mcp_servers: list[str] = Field(default_factory=list[str])


class AgentRecord(BaseModel):
    """A stored agent at one version."""

    id: str
    owner_id: str
    version: int
    definition: AgentDefinition
    created_at: datetime
    updated_at: datetime
    deleted: bool = False
    source: AgentSource | None = None


__all__ = ["AGENTS", "check_name_free", "name_taken"]  # re-exported for callers


def _version_ref(agent_id: str, version: int) -> Any:
    return agent_ref(agent_id).collection(VERSIONS).document(str(version))


def _not_found(agent_id: str) -> NotFound:
    return NotFound(f"agent '{agent_id}' not found", details={"agent_id": agent_id})


def version_not_found(agent_id: str, version: object) -> NotFound:
    return NotFound(f"agent '{agent_id}' version {version} not found")


def _record(agent_id: str, data: dict[str, Any]) -> AgentRecord:
    return AgentRecord.model_validate({**data, "id": agent_id})


def _doc(record: AgentRecord) -> dict[str, Any]:
    data = record.model_dump(mode="python", exclude={"id"})
    data["definition"] = record.definition.model_dump(mode="json")
    data["name"] = record.definition.name  # top-level copy for queries / console browsing
    return data


def _version_doc(record: AgentRecord) -> dict[str, Any]:
    data = _doc(record)
    data.pop("deleted", None)
    return data


def _can_read(record: AgentRecord, principal: Principal) -> bool:
    return record.owner_id == principal.user_id or principal.is_admin


def _load(agent_id: str) -> AgentRecord | None:
    return db.load(AGENTS, agent_id, AgentRecord)


def get_agent(agent_id: str, principal: Principal) -> AgentRecord:
    """The current version; 404 unless the caller owns it (admins may read); deleted → 404;
    403 ``agent_not_allowed`` for a token restricted to other agents."""
    principal.require_agent(agent_id)
    record = _load(agent_id)
    if record is None or record.deleted or not _can_read(record, principal):
        raise _not_found(agent_id)
    return record


def get_agent_version(agent_id: str, version: int) -> AgentRecord:
    """One stored version, with no access check (runs pin versions; marketplace snapshots).

    Versions of a deleted agent stay readable here.
    """
    if not db.is_valid_doc_id(agent_id) or version < 1:
        raise _not_found(agent_id)
    snap = db.get(_version_ref(agent_id, version))
    data = snap.to_dict() if snap.exists else None
    if not data:
        raise version_not_found(agent_id, version)
    return _record(agent_id, data)


def runnable_agent(agent_id: str, principal: Principal) -> AgentRecord:
    """The agent ``POST /runs`` and delegation use: only its owner may run it.

    Admins may *read* others' agents but not run them (a run acts in the caller's
    workspace and bills the caller); for them it is a 404 like for anyone else. A token
    restricted to other agents gets 403 ``agent_not_allowed``.
    """
    principal.require_agent(agent_id)
    record = _load(agent_id)
    if record is None or record.deleted or record.owner_id != principal.user_id:
        raise _not_found(agent_id)
    return record


def load_current(agent_ids: list[str]) -> dict[str, AgentRecord]:
    """Current (non-deleted) records by id, in one batched read; missing ids are left out."""
    ids = [i for i in dict.fromkeys(agent_ids) if db.is_valid_doc_id(i)]
    found: dict[str, AgentRecord] = {}
    for snap in db.get_all([agent_ref(i) for i in ids]):
        data = snap.to_dict() if snap.exists else None
        if data and not data.get("deleted"):
            found[snap.id] = _record(snap.id, data)
    return found


def _request_hash(owner_id: str, definition: AgentDefinition, source: AgentSource | None) -> str:
    payload = definition.model_dump_json() + "|" + (source.model_dump_json() if source else "")
    return hashlib.sha256(f"{owner_id}|{payload}".encode()).hexdigest()


def create_agent(
    owner_id: str,
    definition: AgentDefinition,
    *,
    source: AgentSource | None = None,
    idempotency_key: str | None = None,
) -> AgentRecord:
    """Store a new agent at version 1 (the definition is validated already).

    With ``idempotency_key``, a retry returns the agent the first call created (the key is
    reserved in the same transaction); the same key with a different definition → 409.
    """
    now = datetime.now(UTC)
    record = AgentRecord(
        id=uuid.uuid4().hex,
        owner_id=owner_id,
        version=1,
        definition=definition,
        created_at=now,
        updated_at=now,
        source=source,
    )
    name = definition.name
    reservation = name_ref(owner_id, name)
    if idempotency_key is None:

        def build(batch: db.CountingWrites) -> None:
            batch.create(agent_ref(record.id), _doc(record))
            batch.create(_version_ref(record.id, 1), _version_doc(record))
            batch.create(reservation, name_doc(owner_id, name, record.id))  # fails the batch if taken

        def create_new() -> AgentRecord:
            db.commit_batch(build)
            return record

        return claiming(owner_id, name, create_new)

    key_hash = hashlib.sha256(idempotency_key.encode()).hexdigest()
    key_ref = db.collection(IDEMPOTENCY).document(f"{owner_id}:{_IDEMPOTENCY_SCOPE}:{key_hash}")
    request_hash = _request_hash(owner_id, definition, source)

    def create(tx: db.Tx) -> AgentRecord:
        existing = tx.get(key_ref)
        data = existing.to_dict() if existing.exists else None
        if data:
            if data.get("request_hash") != request_hash:
                raise Conflict(
                    "this Idempotency-Key was already used with a different request",
                    code="idempotency_key_reused",
                )
            first = tx.get(_version_ref(str(data["agent_id"]), 1))
            first_data = first.to_dict() if first.exists else None
            if not first_data:
                raise Conflict("the agent created with this Idempotency-Key no longer exists")
            return _record(str(data["agent_id"]), first_data)
        tx.create(agent_ref(record.id), _doc(record))
        tx.create(reservation, name_doc(owner_id, name, record.id))  # fails the commit if taken
        tx.create(_version_ref(record.id, 1), _version_doc(record))
        tx.create(
            key_ref,
            {
                "owner_id": owner_id,
                "scope": _IDEMPOTENCY_SCOPE,
                "agent_id": record.id,
                "request_hash": request_hash,
                "created_at": now,
                "expires_at": now + IDEMPOTENCY_TTL,
            },
        )
        return record

    return claiming(owner_id, name, lambda: db.run_transaction(create))


def _check_version(record: AgentRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != record.version:
        raise Conflict(
            f"agent '{record.id}' is at version {record.version}, not {expected_version}",
            code="version_mismatch",
            details={"current_version": record.version, "expected_version": expected_version},
        )


def _writable(tx: db.Tx, agent_id: str, principal: Principal, expected_version: int | None) -> AgentRecord:
    """The agent read in ``tx`` for a change: 404 as for reads, 403 for a non-owner who
    may read it (admin), 409 if it is not at ``expected_version``; 403 ``agent_not_allowed``
    for a token restricted to other agents."""
    principal.require_agent(agent_id)
    snap = tx.get(agent_ref(agent_id))
    data = snap.to_dict() if snap.exists else None
    record = _record(agent_id, data) if data else None
    if record is None or record.deleted or not _can_read(record, principal):
        raise _not_found(agent_id)
    if record.owner_id != principal.user_id:
        raise Forbidden("only the owner can change an agent")
    _check_version(record, expected_version)
    return record


def update_agent(
    agent_id: str,
    principal: Principal,
    definition: AgentDefinition,
    *,
    expected_version: int | None = None,
) -> AgentRecord:
    """Store ``definition`` as version n+1 (atomically with the agent document)."""
    if not db.is_valid_doc_id(agent_id):
        raise _not_found(agent_id)
    ref = agent_ref(agent_id)

    def update(tx: db.Tx) -> AgentRecord:
        current = _writable(tx, agent_id, principal, expected_version)
        renamed = current.definition.name != definition.name
        old_name_ref: Any = None
        if renamed:  # all reads before the first write
            old_name_ref = release_name(tx, current.owner_id, current.definition.name, agent_id)
        updated = current.model_copy(
            update={"version": current.version + 1, "definition": definition, "updated_at": datetime.now(UTC)}
        )
        # create(): if another writer got version n+1 in first, this fails instead of overwriting.
        tx.create(_version_ref(agent_id, updated.version), _version_doc(updated))
        tx.update(
            ref,
            {
                "version": updated.version,
                "definition": definition.model_dump(mode="json"),
                "name": definition.name,
                "updated_at": updated.updated_at,
            },
        )
        if renamed:  # the new name's reservation is created: the commit fails if it is taken
            tx.create(
                name_ref(current.owner_id, definition.name),
                name_doc(current.owner_id, definition.name, agent_id),
            )
        if old_name_ref is not None:
            tx.delete(old_name_ref)  # the old name is free again
        return updated

    owner_id = principal.user_id  # only the owner may rename (checked in the transaction)
    return claiming(owner_id, definition.name, lambda: db.run_transaction(update, max_attempts=10))


def delete_agent(agent_id: str, principal: Principal, *, expected_version: int | None = None) -> None:
    """Soft delete: the agent disappears from the API; its versions stay for runs/snapshots."""
    if not db.is_valid_doc_id(agent_id):
        raise _not_found(agent_id)
    ref = agent_ref(agent_id)

    def delete(tx: db.Tx) -> None:
        current = _writable(tx, agent_id, principal, expected_version)
        released = release_name(tx, current.owner_id, current.definition.name, agent_id)
        now = datetime.now(UTC)
        tx.update(ref, {"deleted": True, "deleted_at": now, "updated_at": now})
        if released is not None:
            tx.delete(released)  # the name is free at once

    db.run_transaction(delete)


def list_agents(owner_id: str, *, limit: int, cursor: str | None) -> tuple[list[AgentRecord], str | None]:
    """The owner's agents, newest first (index: owner_id, deleted, created_at desc)."""
    return newest_first(
        db.collection(AGENTS),
        equals={"owner_id": owner_id, "deleted": False},
        limit=limit,
        cursor=cursor,
        parse=_record,
        position=lambda agent: (agent.created_at, agent.id),
    )


def list_versions(
    agent_id: str, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[list[AgentRecord], str | None]:
    """An agent's versions, newest first (same access as :func:`get_agent`)."""
    from google.cloud.firestore import Query

    get_agent(agent_id, principal)
    query: Any = agent_ref(agent_id).collection(VERSIONS).order_by("version", direction=Query.DESCENDING)
    after = decode_cursor(cursor)
    if after is not None:
        below = after.get("v")
        if not isinstance(below, int) or below < 1:
            from shared.errors import BadRequest

            raise BadRequest("invalid cursor", code="invalid_cursor")
        query = query.start_after({"version": below})
    snaps = db.query(query.limit(limit + 1))
    records = [_record(agent_id, s.to_dict() or {}) for s in snaps[:limit]]
    next_cursor = encode_cursor({"v": records[-1].version}) if len(snaps) > limit and records else None
    return records, next_cursor
