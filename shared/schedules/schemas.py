"""Schedule schemas: ``ScheduleCreate``/``ScheduleUpdate`` (requests), ``SchedulePublic``
(what the API shows), ``ScheduleRecord`` (stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.runs.schemas import InputPart

Overlap = Literal["skip", "queue"]
ScheduleStatus = Literal["active", "paused"]
PausedReason = Literal["by_owner", "failures", "agent_unavailable", "owner_inactive"]


class ScheduleCreate(BaseModel):
    """``POST /schedules``."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    cron: str = Field(min_length=1, max_length=120, description="5-field cron expression or @daily etc.")
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA time zone name")
    input: str | list[InputPart]
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    enabled: bool = True
    overlap: Overlap = Field(
        default="skip", description="`skip`: no new run while the previous one is unfinished"
    )
    max_consecutive_failures: int = Field(default=5, ge=1, le=100)
    description: str = Field(default="", max_length=500)


class ScheduleUpdate(BaseModel):
    """``PATCH /schedules/{id}``: any subset; ``enabled`` pauses (false) or resumes (true)."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, min_length=1, max_length=120)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    input: str | list[InputPart] | None = None
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    enabled: bool | None = None
    overlap: Overlap | None = None
    max_consecutive_failures: int | None = Field(default=None, ge=1, le=100)
    description: str | None = Field(default=None, max_length=500)


class SchedulePublic(BaseModel):
    id: str
    agent_id: str
    cron: str
    timezone: str
    input: str | list[dict[str, Any]]
    session_id: str | None = None
    description: str = ""
    enabled: bool
    status: ScheduleStatus
    paused_reason: PausedReason | None = None
    overlap: Overlap
    max_consecutive_failures: int
    consecutive_failures: int = 0
    # The next occurrence (None while paused).
    next_run_at: datetime | None = None
    last_occurrence_at: datetime | None = None
    last_run_id: str | None = None
    skipped_occurrences: int = 0
    last_skipped_at: datetime | None = None
    last_skip_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class ScheduleRecord(SchedulePublic):
    model_config = ConfigDict(extra="ignore")

    owner_id: str
    # Run ids whose result was counted already (duplicate result messages count once).
    counted_runs: list[str] = Field(default_factory=list[str])

    def public(self) -> SchedulePublic:
        return SchedulePublic.model_validate(self.model_dump(include=set(SchedulePublic.model_fields)))


class SchedulePage(BaseModel):
    items: list[SchedulePublic]
    next_cursor: str | None = None
