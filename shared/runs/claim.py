"""Worker leases on runs: claim (queued → running), heartbeat, hand back, and close unstarted runs.

The status changes themselves are transitions of ``shared.runs.lifecycle``; this module
decides which one a delivery, a renewal or a cancel request makes.

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
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from shared.runs import lifecycle, repository
from shared.runs.lifecycle import Event, Move
from shared.runs.schemas import RunRecord

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


def claim_run(
    run_id: str,
    *,
    lease_seconds: float,
    max_attempts: int,
    stale: bool = False,
    delivery_attempt: int | None = None,
) -> Claim:
    """Claim ``run_id`` for this delivery (see the module docstring)."""
    token = uuid.uuid4().hex
    found: dict[str, Any] = {}

    def choose(record: RunRecord, now: datetime) -> Move | None:
        if record.status == "running" and not lifecycle.lease_expired(record, now):
            found["busy"] = lifecycle.as_utc(record.lease_expires_at)
            return None
        if record.status not in ("queued", "running"):
            return None  # finished, or paused for a human decision: nothing to execute
        # Queued, or running under an expired lease (its worker is gone).
        if record.cancel_requested:
            return Move(Event.CANCEL, {"error": _CANCELLED})
        if stale:
            return Move(
                Event.FAIL,
                {"error": {"code": "stale_message", "message": "the run request was too old to execute"}},
            )
        if record.attempts >= max_attempts:
            return Move(Event.FAIL, {"error": attempts_exceeded_error(max_attempts, record.last_error)})
        found["before"] = record.attempts
        attempt = max(record.attempts + 1, delivery_attempt or 0)
        event = Event.CLAIM if record.status == "queued" else Event.TAKE_OVER
        return Move(
            event,
            {
                "attempts": attempt,
                "lease_token": token,
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
                "started_at": record.started_at or now,
            },
        )

    outcome = lifecycle.transition(run_id, choose)
    record = outcome.record
    if record is None:
        return Claim("missing")
    if outcome.moved in (Event.CLAIM, Event.TAKE_OVER):
        return Claim(
            "claimed",
            record,
            token=token,
            attempt=record.attempts,
            final_attempt=record.attempts >= max_attempts,
            lease_expires_at=record.lease_expires_at,
            # A resumed run (paused, decided, queued again) has run before: it continues.
            first_claim=found["before"] == 0 and not record.approvals,
        )
    if outcome.applied:
        return Claim("closed", record)
    if "busy" in found:
        return Claim("busy", record, lease_expires_at=found["busy"])
    return Claim("finished", record)


_CANCELLED = {"code": "cancelled", "message": "the run was cancelled"}


def attempts_exceeded_error(max_attempts: int, last_error: Any) -> dict[str, str]:
    """The error of a run that used up its delivery attempts."""
    message = f"the run did not complete in {max_attempts} attempts"
    code = cast(dict[str, Any], last_error).get("code") if isinstance(last_error, dict) else None
    if code:
        message += f" (last error: {code})"
    return {"code": "max_attempts_exceeded", "message": message}


def renew_lease(run_id: str, token: str, lease_seconds: float) -> bool:
    """Extend this holder's lease; False if the run is no longer ours (finished, paused, taken over)."""
    outcome = lifecycle.apply(
        run_id,
        Event.RENEW,
        lambda _record, now: {"lease_expires_at": now + timedelta(seconds=lease_seconds)},
        guard=lifecycle.held_by(token),
    )
    return outcome.applied


def hand_back(run_id: str, token: str, error: dict[str, str]) -> bool:
    """Put a run whose attempt failed transiently back to ``queued`` for the next delivery."""
    outcome = lifecycle.apply(run_id, Event.HAND_BACK, {"last_error": error}, guard=lifecycle.held_by(token))
    return outcome.applied


def close_run(
    run_id: str,
    status: Literal["failed", "cancelled"],
    error: dict[str, str],
    *,
    token: str | None = None,
    abandoned: bool = False,
) -> RunRecord | None:
    """End a run that no execution will finish: a queued one, (with ``token``) our own claim,
    or (``abandoned``) one whose holder's lease expired.

    Returns the closed record, or None when the run was missing, finished or not ours.
    """
    event = Event.FAIL if status == "failed" else Event.CANCEL

    def guard(record: RunRecord, now: datetime) -> bool:
        if token is not None:
            return record.lease_token == token
        if record.status == "queued":
            return True
        return record.status == "running" and abandoned and lifecycle.lease_expired(record, now)

    outcome = lifecycle.apply(run_id, event, {"error": error}, guard=guard)
    return outcome.record if outcome.applied else None


def request_cancel(run_id: str, owner_id: str) -> tuple[RunRecord, bool]:
    """Cancel the owner's run: (record, closed now). Queued or paused → cancelled; running → flagged."""
    from shared.errors import Conflict

    def choose(record: RunRecord, now: datetime) -> Move | None:
        if record.owner_id != owner_id or record.finished:
            return None
        if record.status == "running":
            return Move(Event.REQUEST_CANCEL, {"cancel_requested": True})
        return Move(Event.CANCEL, {"error": _CANCELLED, "required_action": None})

    outcome = lifecycle.transition(run_id, choose)
    record = outcome.record
    if record is None or record.owner_id != owner_id:
        raise repository.not_found(run_id)
    if not outcome.applied:
        raise Conflict(
            f"the run has already {record.status}",
            code="run_finished",
            details={"run_id": run_id, "status": record.status},
        )
    return record, outcome.moved == Event.CANCEL


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
