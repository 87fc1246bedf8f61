"""Worker leases on runs: claim (queued → running), heartbeat, hand back, and close unstarted runs.

Pub/Sub delivers at least once, so every delivery first *claims* the run in a Firestore
transaction. The claim records a lease (``lease_token``, ``lease_expires_at``) and counts the
attempt; while the holder works it renews the lease every third of its length, so a valid
lease means a live worker. A run whose lease expired (its worker crashed) can be claimed again.

Fields this module adds to ``runs/{id}``: ``lease_token``, ``lease_expires_at``,
``cancel_requested``, ``last_error`` (the transient error of a handed-back attempt).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from shared import db
from shared.runs import repository
from shared.runs.schemas import TERMINAL_STATUSES, RunRecord

_log = logging.getLogger(__name__)

ClaimKind = Literal["claimed", "busy", "finished", "missing", "closed"]


@dataclass
class Claim:
    """What a delivery found. ``claimed``: run it; ``busy``: another live lease holds it;
    ``finished``/``missing``: nothing to do; ``closed``: this claim ended the run (stale
    message, attempts used up, cancelled while its worker was gone) — announce it."""

    kind: ClaimKind
    record: RunRecord | None = None
    token: str | None = None
    attempt: int = 0
    final_attempt: bool = False
    lease_expires_at: datetime | None = None
    # No earlier attempt ran (the run was never claimed), so it has no stored events yet.
    first_claim: bool = False


def _as_utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _record(run_id: str, data: dict[str, Any]) -> RunRecord:
    return RunRecord.model_validate({**data, "id": run_id})


def _closing_fields(status: str, error: dict[str, str] | None, now: datetime) -> dict[str, Any]:
    return {
        "status": status,
        "error": error,
        "finished_at": now,
        "lease_token": None,
        "lease_expires_at": None,
    }


def claim_run(
    run_id: str,
    *,
    lease_seconds: float,
    max_attempts: int,
    stale: bool = False,
    delivery_attempt: int | None = None,
) -> Claim:
    """Claim ``run_id`` for this delivery (see the module docstring)."""
    ref = repository.run_ref(run_id)

    def claim(tx: db.Tx) -> Claim:
        now = datetime.now(UTC)
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data:
            return Claim("missing")
        record = _record(run_id, data)
        if record.status in TERMINAL_STATUSES:
            return Claim("finished", record)
        lease_expires = _as_utc(data.get("lease_expires_at"))
        if record.status == "running" and lease_expires is not None and lease_expires > now:
            return Claim("busy", record, lease_expires_at=lease_expires)
        # Queued, or running under an expired lease (its worker is gone).
        closing: tuple[str, dict[str, str] | None] | None = None
        if data.get("cancel_requested"):
            closing = ("cancelled", {"code": "cancelled", "message": "the run was cancelled"})
        elif stale:
            closing = (
                "failed",
                {"code": "stale_message", "message": "the run request was too old to execute"},
            )
        elif record.attempts >= max_attempts:
            closing = ("failed", attempts_exceeded_error(max_attempts, data.get("last_error")))
        if closing is not None:
            fields = _closing_fields(closing[0], closing[1], now)
            tx.update(ref, fields)
            return Claim("closed", record.model_copy(update=fields))
        attempt = max(record.attempts + 1, delivery_attempt or 0)
        token = uuid.uuid4().hex
        expires = now + timedelta(seconds=lease_seconds)
        fields = {
            "status": "running",
            "attempts": attempt,
            "lease_token": token,
            "lease_expires_at": expires,
            "started_at": record.started_at or now,
        }
        tx.update(ref, fields)
        return Claim(
            "claimed",
            record.model_copy(update=fields),
            token=token,
            attempt=attempt,
            final_attempt=attempt >= max_attempts,
            lease_expires_at=expires,
            first_claim=record.attempts == 0,
        )

    return db.run_transaction(claim)


def attempts_exceeded_error(max_attempts: int, last_error: Any) -> dict[str, str]:
    """The error of a run that used up its delivery attempts."""
    message = f"the run did not complete in {max_attempts} attempts"
    code = cast(dict[str, Any], last_error).get("code") if isinstance(last_error, dict) else None
    if code:
        message += f" (last error: {code})"
    return {"code": "max_attempts_exceeded", "message": message}


def renew_lease(run_id: str, token: str, lease_seconds: float) -> bool:
    """Extend this worker's lease; False if the run is no longer ours (finished or taken over)."""
    ref = repository.run_ref(run_id)

    def renew(tx: db.Tx) -> bool:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("lease_token") != token or data.get("status") != "running":
            return False
        tx.update(ref, {"lease_expires_at": datetime.now(UTC) + timedelta(seconds=lease_seconds)})
        return True

    return db.run_transaction(renew)


def hand_back(run_id: str, token: str, error: dict[str, str]) -> bool:
    """Put a run whose attempt failed transiently back to ``queued`` for the next delivery."""
    ref = repository.run_ref(run_id)

    def back(tx: db.Tx) -> bool:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("lease_token") != token or data.get("status") != "running":
            return False
        tx.update(
            ref,
            {"status": "queued", "lease_token": None, "lease_expires_at": None, "last_error": error},
        )
        return True

    return db.run_transaction(back)


def close_run(
    run_id: str,
    status: Literal["failed", "cancelled"],
    error: dict[str, str],
    *,
    token: str | None = None,
    abandoned: bool = False,
) -> RunRecord | None:
    """End a run that no execution will finish: a queued one, (with ``token``) our own claim,
    or (``abandoned``) one whose worker's lease expired.

    Returns the closed record, or None when the run was missing, finished or not ours.
    """
    ref = repository.run_ref(run_id)

    def close(tx: db.Tx) -> RunRecord | None:
        now = datetime.now(UTC)
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("status") in TERMINAL_STATUSES:
            return None
        if token is not None:
            if data.get("lease_token") != token:
                return None
        elif data.get("status") != "queued":
            expires = _as_utc(data.get("lease_expires_at"))
            if not abandoned or (expires is not None and expires > now):
                return None
        fields = _closing_fields(status, error, now)
        tx.update(ref, fields)
        return _record(run_id, {**data, **fields})

    return db.run_transaction(close)


def request_cancel(run_id: str, owner_id: str) -> tuple[RunRecord, bool]:
    """Cancel the owner's run: (record, closed now). Queued → cancelled; running → flagged."""
    from shared.errors import Conflict

    ref = repository.run_ref(run_id)

    def cancel(tx: db.Tx) -> tuple[RunRecord, bool]:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("owner_id") != owner_id:
            raise repository.not_found(run_id)
        record = _record(run_id, data)
        if record.status in TERMINAL_STATUSES:
            raise Conflict(
                f"the run has already {record.status}",
                code="run_finished",
                details={"run_id": run_id, "status": record.status},
            )
        if record.status == "queued":
            fields = _closing_fields(
                "cancelled", {"code": "cancelled", "message": "the run was cancelled"}, datetime.now(UTC)
            )
            tx.update(ref, fields)
            return record.model_copy(update=fields), True
        tx.update(ref, {"cancel_requested": True})
        return record.model_copy(update={"cancel_requested": True}), False

    return db.run_transaction(cancel)


async def announce_closed(record: RunRecord) -> None:
    """The side effects of a run ending outside an execution: its terminal event and result."""
    import asyncio

    from shared.runs.events import RunEventWriter, last_event_seq
    from shared.runs.queue import publish_result

    public = record.public()
    try:
        start = await asyncio.to_thread(last_event_seq, record.id)
        writer = RunEventWriter(record.id, start_after=start)
        event_type = "run.completed" if public.status == "succeeded" else "run.failed"
        writer.add(event_type, {"run": public.model_dump(mode="json")})
        await writer.close()
    except Exception:
        _log.warning("could not store a run's terminal event", extra={"run_id": record.id}, exc_info=True)
    await asyncio.to_thread(publish_result, public)
