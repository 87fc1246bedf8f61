"""The run lifecycle: every change of a run's ``status`` happens here, as an explicit transition.

::

    queued ──claim──▶ running ──succeed/fail/cancel──▶ succeeded | failed | cancelled
      ▲  │               │ ▲ │
      │  └─fail/cancel   │ │ └─pause──▶ requires_action ──resume──▶ running
      └──hand_back───────┘ │                 │ │ └─resume_queued──▶ queued
                            └─take_over       │ └─decide (some items still open)
                                              └─expire / cancel──▶ failed | cancelled

``TRANSITIONS`` is the whole table: (status, event) → next status; any other pair is illegal
(``next_status`` raises ``IllegalTransition``). Runs are *created* in ``queued`` (async, batch,
trusted publishers), ``running`` (sync/stream) or ``failed`` (a trusted request that could not
be accepted) — ``INITIAL_STATUSES``.

``transition(run_id, choose)`` reads the run in a Firestore transaction, lets ``choose`` pick
the event (or nothing) from what is stored now, checks it against the table and writes the new
status with the event's fields. Leaving ``running`` clears the lease; entering a terminal
status sets ``finished_at``. ``apply(run_id, event, ...)`` is the common case of one event
with an optional guard. Modules that decide *when* to move a run (the worker's claim, cancel,
the sweep, executions) call these; none writes ``status`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared import db
from shared.runs import repository
from shared.runs.schemas import TERMINAL_STATUSES, RunRecord


class Event(StrEnum):
    CLAIM = "claim"  # a delivery takes a queued run (lease, attempt + 1)
    TAKE_OVER = "take_over"  # a delivery takes a running run whose lease expired
    RENEW = "renew"  # the lease holder extends its lease
    REQUEST_CANCEL = "request_cancel"  # flag a running run; it stops at its next step
    HAND_BACK = "hand_back"  # a transient failure: back to the queue for redelivery
    CHECKPOINT = "checkpoint"  # the holder stored a step of its conversation
    PAUSE = "pause"  # a tool call waits for a human decision
    DECIDE = "decide"  # decisions recorded, some items still open
    RESUME = "resume"  # every item decided: continue now (sync/stream)
    RESUME_QUEUED = "resume_queued"  # every item decided: continue through the queue (async)
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"
    EXPIRE = "expire"  # nobody decided within RUN_APPROVAL_TTL_SECONDS


STATUSES: tuple[str, ...] = ("queued", "running", "requires_action", "succeeded", "failed", "cancelled")
INITIAL_STATUSES: frozenset[str] = frozenset({"queued", "running", "failed"})

TRANSITIONS: Mapping[tuple[str, Event], str] = {
    ("queued", Event.CLAIM): "running",
    ("queued", Event.FAIL): "failed",  # enqueue failed, stale message, attempts used up
    ("queued", Event.CANCEL): "cancelled",
    ("running", Event.TAKE_OVER): "running",
    ("running", Event.RENEW): "running",
    ("running", Event.REQUEST_CANCEL): "running",
    ("running", Event.CHECKPOINT): "running",
    ("running", Event.HAND_BACK): "queued",
    ("running", Event.PAUSE): "requires_action",
    ("running", Event.SUCCEED): "succeeded",
    ("running", Event.FAIL): "failed",
    ("running", Event.CANCEL): "cancelled",
    ("requires_action", Event.DECIDE): "requires_action",
    ("requires_action", Event.RESUME): "running",
    ("requires_action", Event.RESUME_QUEUED): "queued",
    ("requires_action", Event.CANCEL): "cancelled",
    ("requires_action", Event.EXPIRE): "failed",
}

# Leaving `running` ends the holder's lease (a queued or paused run has no instance).
_LEASE_CLEARED = {"lease_token": None, "lease_expires_at": None}


class IllegalTransition(Exception):
    def __init__(self, status: str, event: Event) -> None:
        super().__init__(f"a {status} run cannot {event.value}")
        self.status = status
        self.event = event


def next_status(status: str, event: Event) -> str:
    """The status ``event`` moves a ``status`` run to; ``IllegalTransition`` if it cannot."""
    target = TRANSITIONS.get((status, event))
    if target is None:
        raise IllegalTransition(status, event)
    return target


def allows(status: str, event: Event) -> bool:
    return (status, event) in TRANSITIONS


@dataclass(frozen=True)
class Move:
    """What ``choose`` decided: apply ``event`` with these extra ``fields``; ``also`` adds writes
    to other documents in the same transaction (a checkpoint's conversation chunks)."""

    event: Event
    fields: Mapping[str, Any] = field(default_factory=dict[str, Any])
    also: Callable[[db.Tx], None] | None = None


@dataclass
class Outcome:
    """The run as stored after the transaction (None: no such run) and the event applied (if any)."""

    record: RunRecord | None
    moved: Event | None = None

    @property
    def applied(self) -> bool:
        return self.moved is not None


Choose = Callable[[RunRecord, datetime], Move | None]


def as_utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def fields_for(record: RunRecord, move: Move, now: datetime) -> dict[str, Any]:
    """The document fields ``move`` writes to ``record`` (status, lease, finished_at + its own)."""
    target = next_status(record.status, move.event)
    fields: dict[str, Any] = {"status": target}
    if record.status == "running" and target != "running":
        fields.update(_LEASE_CLEARED)
    if target in TERMINAL_STATUSES:
        fields["finished_at"] = now
    fields.update(move.fields)
    return fields


def transition(run_id: str, choose: Choose) -> Outcome:
    """Read the run, let ``choose`` pick a move from its stored state, apply it — atomically."""
    ref = repository.run_ref(run_id)

    def step(tx: db.Tx) -> Outcome:
        now = datetime.now(UTC)
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data:
            return Outcome(None)
        record = RunRecord.model_validate({**data, "id": run_id})
        move = choose(record, now)
        if move is None:
            return Outcome(record)
        fields = fields_for(record, move, now)
        if move.also is not None:
            move.also(tx)
        if fields != {"status": record.status}:  # a bare self-loop (checkpoint) writes only `also`
            tx.update(ref, fields)
        # Validated again: fields hold plain dicts (error, approvals) as they are stored.
        return Outcome(RunRecord.model_validate({**data, **fields, "id": run_id}), move.event)

    return db.run_transaction(step)


Guard = Callable[[RunRecord, datetime], bool]
Fields = Mapping[str, Any] | Callable[[RunRecord, datetime], Mapping[str, Any]]


def apply(run_id: str, event: Event, fields: Fields | None = None, *, guard: Guard | None = None) -> Outcome:
    """Apply ``event`` if the stored status allows it and ``guard`` agrees; else change nothing."""

    def choose(record: RunRecord, now: datetime) -> Move | None:
        if not allows(record.status, event) or (guard is not None and not guard(record, now)):
            return None
        extra = fields(record, now) if callable(fields) else (fields or {})
        return Move(event, extra)

    return transition(run_id, choose)


def held_by(token: str | None) -> Guard:
    """Guard: the run is running under this lease token (None: any running run without one)."""

    def guard(record: RunRecord, now: datetime) -> bool:
        return record.status == "running" and record.lease_token == token

    return guard


def lease_expired(record: RunRecord, now: datetime) -> bool:
    expires = as_utc(record.lease_expires_at)
    return expires is None or expires <= now
