"""The schedule lifecycle: every state change of a schedule is one of these transitions.

::

    active ──occurrence started / skipped──▶ active (next_run_at advanced)
    active ──pause (owner, failures, agent or owner gone)──▶ paused (next_run_at = None)
    paused ──resume──▶ active (failures reset, next_run_at from now)

An occurrence is taken only while ``next_run_at`` still equals it, so two ticks that both saw
it due advance the schedule once. ``next_run_at`` always moves to the first occurrence after
*now*: however many ticks were missed, the schedule catches up with one run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.schedules.cron import next_after
from shared.schedules.schemas import PausedReason, ScheduleRecord

RECENT_RESULTS = 20


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"schedule cannot go from {current} to {target}")


def _next(record: ScheduleRecord, after: datetime) -> datetime:
    return next_after(record.cron, record.timezone, after)


def _change(record: ScheduleRecord, now: datetime, **changes: Any) -> ScheduleRecord:
    return record.model_copy(update={**changes, "updated_at": now})


def first_state(record: ScheduleRecord, now: datetime) -> ScheduleRecord:
    """A new schedule: active with its first occurrence, or paused by its owner."""
    if record.enabled:
        return _change(record, now, status="active", paused_reason=None, next_run_at=_next(record, now))
    return _change(record, now, status="paused", paused_reason="by_owner", next_run_at=None)


def is_due(record: ScheduleRecord, occurrence: datetime, now: datetime) -> bool:
    return record.status == "active" and record.next_run_at == occurrence and occurrence <= now


def occurrence_started(
    record: ScheduleRecord, occurrence: datetime, run_id: str, now: datetime
) -> ScheduleRecord:
    if not is_due(record, occurrence, now):
        raise InvalidTransition(record.status, "started")
    return _change(
        record,
        now,
        next_run_at=_next(record, max(now, occurrence)),
        last_occurrence_at=occurrence,
        last_run_id=run_id,
    )


def occurrence_skipped(
    record: ScheduleRecord, occurrence: datetime, reason: str, now: datetime
) -> ScheduleRecord:
    if not is_due(record, occurrence, now):
        raise InvalidTransition(record.status, "skipped")
    return _change(
        record,
        now,
        next_run_at=_next(record, max(now, occurrence)),
        last_occurrence_at=occurrence,
        skipped_occurrences=record.skipped_occurrences + 1,
        last_skipped_at=occurrence,
        last_skip_reason=reason,
    )


def pause(record: ScheduleRecord, reason: PausedReason, now: datetime) -> ScheduleRecord:
    if record.status != "active":
        raise InvalidTransition(record.status, "paused")
    return _change(record, now, status="paused", enabled=False, paused_reason=reason, next_run_at=None)


def resume(record: ScheduleRecord, now: datetime) -> ScheduleRecord:
    if record.status != "paused":
        raise InvalidTransition(record.status, "active")
    return _change(
        record,
        now,
        status="active",
        enabled=True,
        paused_reason=None,
        consecutive_failures=0,
        next_run_at=_next(record, now),
    )


def rescheduled(record: ScheduleRecord, now: datetime) -> ScheduleRecord:
    """Cron or time zone changed: the next occurrence follows the new rule."""
    if record.status != "active":
        return _change(record, now)
    return _change(record, now, next_run_at=_next(record, now))


def run_finished(
    record: ScheduleRecord, run_id: str, status: str, now: datetime
) -> tuple[ScheduleRecord, bool]:
    """Count a finished run once: success resets the failures, failure adds one; at
    ``max_consecutive_failures`` an active schedule pauses. Returns (record, paused now)."""
    if run_id in record.counted_runs or status not in ("succeeded", "failed", "cancelled"):
        return record, False
    counted = [*record.counted_runs, run_id][-RECENT_RESULTS:]
    failures = record.consecutive_failures
    if status == "succeeded":
        failures = 0
    elif status == "failed":
        failures += 1
    updated = _change(record, now, counted_runs=counted, consecutive_failures=failures)
    if updated.status == "active" and failures >= updated.max_consecutive_failures:
        return pause(updated, "failures", now), True
    return updated, False
