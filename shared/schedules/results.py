"""A schedule's finished runs (from run-results, via the dispatcher): count failures once per
run, pause at ``max_consecutive_failures`` and tell the owner's webhooks (``schedule.paused``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared import db
from shared.schedules import lifecycle, repository
from shared.schedules.schemas import ScheduleRecord

_log = logging.getLogger(__name__)


def record_result(run: dict[str, Any]) -> None:
    schedule_id, run_id, status = run.get("schedule_id"), run.get("id"), run.get("status")
    if not isinstance(schedule_id, str) or not db.is_valid_doc_id(schedule_id):
        return
    if not isinstance(run_id, str) or status not in ("succeeded", "failed", "cancelled"):
        return
    paused_now: list[ScheduleRecord] = []

    def count(current: ScheduleRecord) -> ScheduleRecord | None:
        if current.owner_id != run.get("owner_id"):
            return None
        updated, paused = lifecycle.run_finished(current, run_id, str(status), datetime.now(UTC))
        if updated is current:
            return None
        if paused:
            paused_now.append(updated)
        return updated

    repository.transition(schedule_id, count)
    for record in paused_now[-1:]:
        announce_paused(record)


def announce_paused(record: ScheduleRecord) -> None:
    """``schedule.paused`` to the owner's endpoints (failures here are logged, not raised)."""
    from shared.webhooks.events import Event, emit, event_id

    event = Event(
        event_id("schedule.paused", record.id, record.updated_at.isoformat()),
        "schedule.paused",
        record.owner_id,
        {"schedule": record.public().model_dump(mode="json")},
        record.updated_at,
    )
    try:
        emit(event)
    except Exception:
        _log.warning("could not announce a paused schedule", extra={"schedule_id": record.id}, exc_info=True)
