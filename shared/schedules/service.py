"""The schedules API: create, list, show, update (pause/resume), delete, run now, its runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared import db
from shared.errors import Conflict, ValidationFailed
from shared.schedules import cron, lifecycle, repository, runner
from shared.schedules.schemas import (
    ScheduleCreate,
    SchedulePage,
    SchedulePublic,
    ScheduleRecord,
    ScheduleUpdate,
)
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunPage, RunPublic


def _check_target(principal: Principal, agent_id: str, session_id: str | None, run_input: Any) -> None:
    """The agent must be the caller's (404), the session theirs and the agent's, the input valid."""
    from shared.agents.repository import runnable_agent
    from shared.runs.async_runs import check_session
    from shared.runs.schemas import RunCreate

    try:
        RunCreate.model_validate({"agent_id": agent_id, "input": run_input, "mode": "async"})
    except ValidationError as exc:
        message = exc.errors()[0]["msg"] if exc.errors() else "invalid input"
        raise ValidationFailed.field("input", message) from None
    agent = runnable_agent(agent_id, principal)
    if session_id is not None:
        check_session(session_id, principal.user_id, agent.id)


def create(principal: Principal, body: ScheduleCreate) -> SchedulePublic:
    cron.validate(body.cron, body.timezone)
    _check_target(principal, body.agent_id, body.session_id, body.input)
    limit = get_settings().schedule_max_per_user
    if repository.count_mine(principal.user_id) >= limit:
        raise Conflict(f"at most {limit} schedules per user", code="schedule_limit_reached")
    now = datetime.now(UTC)
    record = ScheduleRecord(
        id=uuid.uuid4().hex,
        agent_id=body.agent_id,
        cron=body.cron.strip(),
        timezone=cron.zone(body.timezone).key,
        input=body.model_dump(mode="json")["input"],
        session_id=body.session_id,
        description=body.description,
        enabled=body.enabled,
        status="active",
        overlap=body.overlap,
        max_consecutive_failures=body.max_consecutive_failures,
        created_at=now,
        updated_at=now,
        owner_id=principal.user_id,
    )
    record = lifecycle.first_state(record, now)
    db.create(repository.schedule_ref(record.id), repository.to_doc(record))
    return record.public()


def list_mine(principal: Principal, *, limit: int, cursor: str | None) -> SchedulePage:
    records, next_cursor = repository.list_mine(
        principal.user_id, limit=limit, cursor=cursor, agent_ids=principal.agent_ids
    )
    return SchedulePage(items=[r.public() for r in records], next_cursor=next_cursor)


def _mine(principal: Principal, schedule_id: str) -> ScheduleRecord:
    """The caller's schedule (404 otherwise); 403 ``agent_not_allowed`` for a token restricted
    to other agents."""
    record = repository.get(schedule_id, principal.user_id)
    principal.require_agent(record.agent_id)
    return record


def get(principal: Principal, schedule_id: str) -> SchedulePublic:
    return _mine(principal, schedule_id).public()


def update(principal: Principal, schedule_id: str, body: ScheduleUpdate) -> SchedulePublic:
    current = _mine(principal, schedule_id)
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"enabled"})
    for name, value in changes.items():
        if value is None and name != "session_id":  # only the session can be cleared
            raise ValidationFailed.field(name, "may not be null")
    merged = current.model_copy(update=changes)
    if "cron" in changes or "timezone" in changes:
        cron.validate(merged.cron, merged.timezone)
        changes["timezone"] = cron.zone(merged.timezone).key
    if "input" in changes or "session_id" in changes:
        _check_target(principal, current.agent_id, merged.session_id, merged.input)
    now = datetime.now(UTC)

    def apply(record: ScheduleRecord) -> ScheduleRecord | None:
        if record.owner_id != principal.user_id:
            return None
        updated = record.model_copy(update=changes)
        if body.enabled is False and updated.status == "active":
            updated = lifecycle.pause(updated, "by_owner", now)
        elif body.enabled is True and updated.status == "paused":
            updated = lifecycle.resume(updated, now)
        elif "cron" in changes or "timezone" in changes:
            updated = lifecycle.rescheduled(updated, now)
        else:
            updated = updated.model_copy(update={"updated_at": now})
        return updated

    updated = repository.transition(schedule_id, apply)
    if updated is None:
        raise repository.not_found(schedule_id)
    return updated.public()


def delete(principal: Principal, schedule_id: str) -> None:
    _mine(principal, schedule_id)
    db.delete(repository.schedule_ref(schedule_id))


def run_now(principal: Principal, schedule_id: str, idempotency_key: str | None) -> RunPublic:
    """Start the schedule's run now (outside its cron; counted against the quota). A repeated
    ``Idempotency-Key`` returns the first run."""
    record = _mine(principal, schedule_id)
    suffix = idempotency_key or uuid.uuid4().hex
    run = runner.start(record, f"schedule:{record.id}:now:{suffix}", principal)

    def remember(current: ScheduleRecord) -> ScheduleRecord | None:
        return current.model_copy(update={"last_run_id": run.id, "updated_at": datetime.now(UTC)})

    repository.transition(record.id, remember)
    return run.public()


def runs(principal: Principal, schedule_id: str, *, limit: int, cursor: str | None) -> RunPage:
    from shared.pagination import newest_first
    from shared.runs.repository import RUNS
    from shared.runs.schemas import RunPage, RunRecord

    _mine(principal, schedule_id)
    records, next_cursor = newest_first(
        db.collection(RUNS),
        equals={"owner_id": principal.user_id, "schedule_id": schedule_id},
        limit=limit,
        cursor=cursor,
        parse=lambda doc_id, data: RunRecord.model_validate({**data, "id": doc_id}),
        position=lambda r: (r.created_at, r.id),
    )
    return RunPage(items=[r.public() for r in records], next_cursor=next_cursor)
