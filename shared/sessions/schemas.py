"""Session schemas: ``SessionCreate``, ``SessionPublic``, ``SessionRecord``, the readable history."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Cursor


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    title: str | None = Field(default=None, max_length=200)


class SessionPublic(BaseModel):
    id: str
    agent_id: str
    owner_id: str
    title: str | None = None
    message_count: int = 0
    busy: bool = False
    created_at: datetime
    updated_at: datetime


class SessionRecord(BaseModel):
    """``sessions/{id}``; the history lives in ``sessions/{id}/chunks``."""

    model_config = ConfigDict(extra="allow")

    id: str
    agent_id: str
    owner_id: str
    title: str | None = None
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    message_count: int = 0
    chunk_count: int = 0
    lease_run_id: str | None = None
    lease_expires_at: datetime | None = None
    # The lease holder is a run paused for a human decision (until its approval expires).
    lease_requires_action: bool = False

    def busy_at(self, now: datetime) -> bool:
        return (
            self.lease_run_id is not None
            and self.lease_expires_at is not None
            and self.lease_expires_at > now
        )

    def public(self, now: datetime) -> SessionPublic:
        return SessionPublic(
            id=self.id,
            agent_id=self.agent_id,
            owner_id=self.owner_id,
            title=self.title,
            message_count=self.message_count,
            busy=self.busy_at(now),
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class SessionMessage(BaseModel):
    """One readable entry of a conversation."""

    role: Literal["user", "assistant", "tool_call", "tool"]
    content: str
    created_at: datetime | None = None
    name: str | None = Field(default=None, description="The tool's name (tool_call and tool entries).")


class SessionDetail(BaseModel):
    session: SessionPublic
    messages: list[SessionMessage]


class SessionPage(BaseModel):
    items: list[SessionPublic]
    next_cursor: str | None = None


class SessionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=128)
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Cursor | None = None
