"""Starting a schedule's run: an async run as the owner, counted against the owner's quota,
carrying ``schedule_id``, keyed so one occurrence can only ever create one run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.errors import NotFound

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunRecord
    from shared.schedules.schemas import ScheduleRecord


class OwnerInactive(Exception):
    """The schedule's owner no longer exists or was deactivated."""


def occurrence_key(schedule_id: str, occurrence: datetime) -> str:
    """The idempotency key of one occurrence: the schedule and the occurrence's UTC time."""
    return f"schedule:{schedule_id}:{occurrence.astimezone(UTC).strftime('%Y-%m-%dT%H:%MZ')}"


def owner_principal(record: ScheduleRecord) -> Principal:
    from shared.auth.principal import Principal
    from shared.auth.users import get_user

    user = get_user(record.owner_id)
    if user is None or not user.is_active:
        raise OwnerInactive(record.owner_id)
    return Principal(user_id=user.id, username=user.username, role=user.role)


def start(record: ScheduleRecord, key: str, principal: Principal | None = None) -> RunRecord:
    """Queue the schedule's run under ``key`` (the first run again on a repeated key).

    Raises ``NotFound`` (agent or session gone), ``ValidationFailed``, ``RateLimited``,
    ``ServiceUnavailable`` like ``POST /runs``, and ``OwnerInactive``.
    """
    from shared.runs.schemas import RunCreate
    from shared.runs.service import start_run

    principal = principal or owner_principal(record)
    body = RunCreate.model_validate(
        {
            "agent_id": record.agent_id,
            "input": record.input,
            "session_id": record.session_id,
            "mode": "async",
            "idempotency_key": key,
        }
    )
    started = start_run(principal, body, schedule_id=record.id)
    if started.record.owner_id != record.owner_id:  # pragma: no cover - keys are per owner
        raise NotFound("run not found")
    return started.record
