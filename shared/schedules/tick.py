"""The minute tick (Cloud Scheduler → schedule-ticks → dispatcher): start every due occurrence.

One indexed query finds the active schedules whose ``next_run_at`` has come. For each:

1. ``overlap: "skip"`` and the previous run unfinished → the occurrence is recorded as
   skipped (``skipped_occurrences``, ``last_skip_reason: "previous_run_unfinished"``);
2. otherwise its run is queued with the idempotency key ``schedule:<id>:<occurrence>``;
3. then, in a transaction, the schedule moves on to its first occurrence after now — only if
   ``next_run_at`` still equals this occurrence.

A duplicate or concurrent tick finds the occurrence taken (3) or gets the same run back (2);
a tick that died between 2 and 3 is repaired by the next one with the same key. Missed ticks
leave ``next_run_at`` in the past: the next tick runs that occurrence once and jumps to the
future. A run the owner's quota refuses is recorded as a skip (``rate_limited``); a schedule
whose agent, session or owner is gone pauses itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.errors import NotFound, RateLimited, ServiceUnavailable, ValidationFailed
from shared.schedules import lifecycle, repository, runner
from shared.schedules.schemas import PausedReason, ScheduleRecord
from shared.settings import get_settings

_log = logging.getLogger(__name__)
_TIME_BUDGET_SECONDS = 240.0


@dataclass
class TickReport:
    started: list[str] = field(default_factory=list[str])
    skipped: list[str] = field(default_factory=list[str])
    paused: list[str] = field(default_factory=list[str])
    # Schedules left for the next tick (Pub/Sub refused a run, time budget).
    deferred: list[str] = field(default_factory=list[str])


def tick(now: datetime | None = None) -> TickReport:
    """Start what is due at ``now`` (default: the current time)."""
    now = now or datetime.now(UTC)
    report = TickReport()
    started = time.monotonic()
    for record in repository.due(now, get_settings().schedule_tick_batch):
        if time.monotonic() - started > _TIME_BUDGET_SECONDS:
            report.deferred.append(record.id)
            continue
        assert record.next_run_at is not None
        try:
            _occurrence(record, record.next_run_at, now, report)
        except ServiceUnavailable:
            _log.warning("schedule occurrence deferred", extra={"schedule_id": record.id}, exc_info=True)
            report.deferred.append(record.id)
    if report.started or report.skipped or report.paused:
        _log.info(
            "schedule tick",
            extra={
                "started": len(report.started),
                "skipped": len(report.skipped),
                "paused": len(report.paused),
            },
        )
    return report


def _occurrence(record: ScheduleRecord, occurrence: datetime, now: datetime, report: TickReport) -> None:
    if record.overlap == "skip" and _previous_unfinished(record):
        _skip(record, occurrence, "previous_run_unfinished", now, report)
        return
    key = runner.occurrence_key(record.id, occurrence)
    try:
        run = runner.start(record, key)
    except runner.OwnerInactive:
        _pause(record, "owner_inactive", now, report)
        return
    except (NotFound, ValidationFailed):
        _pause(record, "agent_unavailable", now, report)
        return
    except RateLimited:
        _skip(record, occurrence, "rate_limited", now, report)
        return

    def advance(current: ScheduleRecord) -> ScheduleRecord | None:
        if not lifecycle.is_due(current, occurrence, now):
            return None  # another tick took it
        return lifecycle.occurrence_started(current, occurrence, run.id, now)

    if repository.transition(record.id, advance) is not None:
        report.started.append(record.id)


def _previous_unfinished(record: ScheduleRecord) -> bool:
    from shared.runs.repository import load_run

    if not record.last_run_id:
        return False
    previous = load_run(record.last_run_id)
    return previous is not None and not previous.finished


def _skip(
    record: ScheduleRecord, occurrence: datetime, reason: str, now: datetime, report: TickReport
) -> None:
    def skip(current: ScheduleRecord) -> ScheduleRecord | None:
        if not lifecycle.is_due(current, occurrence, now):
            return None
        return lifecycle.occurrence_skipped(current, occurrence, reason, now)

    if repository.transition(record.id, skip) is not None:
        report.skipped.append(record.id)


def _pause(record: ScheduleRecord, reason: PausedReason, now: datetime, report: TickReport) -> None:
    from shared.schedules.results import announce_paused

    def pause(current: ScheduleRecord) -> ScheduleRecord | None:
        if current.status != "active":
            return None
        return lifecycle.pause(current, reason, now)

    paused = repository.transition(record.id, pause)
    if paused is not None:
        report.paused.append(record.id)
        announce_paused(paused)
