"""Ending runs nobody will continue (called by the sweep, ``shared.runs.sweep``).

- **Expired approvals**: a run ``requires_action`` since before ``cutoff`` (paused longer than
  ``RUN_APPROVAL_TTL_SECONDS``) ends ``failed`` with ``error.code = "approval_expired"``
  (``lifecycle`` ``expire``).
- **Lost instances**: a sync or stream run is executed by its HTTP request, which renews the
  run's lease while it works. A run still ``running`` with an expired lease lost its instance
  (killed, timed out, crashed): it ends ``failed`` with ``error.code = "instance_lost"`` and
  the usage its last checkpoint recorded. (Async runs are left to Pub/Sub, whose redelivery
  lets a worker take them over from their checkpoint.)

Either way the session lease is released, the terminal event stored and the result published.
Both queries are index-backed: ``(status, paused_at)`` and ``(status, mode, lease_expires_at)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from shared import db
from shared.runs import lifecycle, repository
from shared.runs.lifecycle import Event, Move
from shared.runs.schemas import RunRecord

_log = logging.getLogger(__name__)
_PAGE = 100

EXPIRED = {"code": "approval_expired", "message": "nobody decided on the pending tool calls in time"}
LOST = {"code": "instance_lost", "message": "the instance running this run stopped before it finished"}


def _pages(query: Any, deadline: float) -> Iterator[RunRecord]:
    seen: set[str] = set()
    while time.monotonic() < deadline:
        snaps = [snap for snap in db.query(query.limit(_PAGE)) if snap.id not in seen]
        if not snaps:
            return
        for snap in snaps:
            seen.add(snap.id)
            yield RunRecord.model_validate({**(snap.to_dict() or {}), "id": snap.id})


def expire_approvals(cutoff: datetime, deadline: float) -> int:
    from google.cloud.firestore import FieldFilter

    runs: Any = db.collection(repository.RUNS)
    query = runs.where(filter=FieldFilter("status", "==", "requires_action")).where(
        filter=FieldFilter("paused_at", "<=", cutoff)
    )
    ended = 0
    for record in _pages(query, deadline):
        paused_at = record.paused_at

        def choose(stored: RunRecord, now: datetime, paused_at: datetime | None = paused_at) -> Move | None:
            if stored.status != "requires_action" or stored.paused_at != paused_at:
                return None  # decided or cancelled meanwhile
            return Move(Event.EXPIRE, {"error": EXPIRED})

        if _close(record.id, choose):
            ended += 1
    return ended


def end_lost_runs(now: datetime, deadline: float) -> int:
    from google.cloud.firestore import FieldFilter

    runs: Any = db.collection(repository.RUNS)
    query = (
        runs.where(filter=FieldFilter("status", "==", "running"))
        .where(filter=FieldFilter("mode", "in", ["sync", "stream"]))
        .where(filter=FieldFilter("lease_expires_at", "<=", now))
    )
    ended = 0
    for record in _pages(query, deadline):
        usage = _checkpoint_usage(record.id)
        token = record.lease_token

        fields: dict[str, Any] = {"error": LOST} if usage is None else {"error": LOST, "usage": usage}

        def choose(
            stored: RunRecord, now: datetime, token: str | None = token, fields: dict[str, Any] = fields
        ) -> Move | None:
            if stored.lease_token != token or not lifecycle.lease_expired(stored, now):
                return None  # renewed meanwhile: its instance is alive after all
            return Move(Event.FAIL, fields)

        if _close(record.id, choose):
            ended += 1
    return ended


def _checkpoint_usage(run_id: str) -> dict[str, int] | None:
    """The usage the run's last checkpoint recorded (None: it stored none)."""
    from shared.runs.checkpoints import load

    stored = load(run_id).usage
    if stored is None:
        return None
    return {
        "requests": stored.requests,
        "input_tokens": stored.input_tokens,
        "output_tokens": stored.output_tokens,
        "tool_calls": stored.tool_calls,
    }


def _close(run_id: str, choose: lifecycle.Choose) -> bool:
    from shared import aio
    from shared.runs.claim import announce_closed

    outcome = lifecycle.transition(run_id, choose)
    if not outcome.applied or outcome.record is None:
        return False
    record = outcome.record
    if record.session_id is not None:
        from shared.sessions.repository import release_lease

        release_lease(record.session_id, record.id)
    aio.run(announce_closed(record))
    _log.warning(
        "run ended by the sweep: %s", record.error.code if record.error else "", extra={"run_id": run_id}
    )
    return True
