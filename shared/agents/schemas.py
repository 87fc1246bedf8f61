"""The agents API's schema family: Create / Update (the definition), Public, list queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.agents.definition import AgentDefinition
from shared.agents.repository import AgentRecord, AgentSource
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT


class AgentCreate(AgentDefinition):
    """``POST /agents`` body: a full definition."""


class AgentUpdate(AgentDefinition):
    """``PUT /agents/{id}`` body: the full new definition (stored as version n+1)."""


class AgentPublic(AgentDefinition):
    """The agent object: ``{id, owner_id, version, definition fields..., created_at, updated_at, source}``."""

    model_config = ConfigDict(extra="ignore")

    id: str
    owner_id: str
    version: int
    created_at: datetime
    updated_at: datetime
    source: AgentSource | None = None

    @classmethod
    def of(cls, record: AgentRecord) -> AgentPublic:
        fields: dict[str, Any] = record.definition.model_dump()
        fields.update(
            id=record.id,
            owner_id=record.owner_id,
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
            source=record.source,
        )
        return cls.model_validate(fields)

    def definition(self) -> AgentDefinition:
        return AgentDefinition.model_validate(self.model_dump(include=set(AgentDefinition.model_fields)))


class AgentPage(BaseModel):
    items: list[AgentPublic]
    next_cursor: str | None = None


class AgentListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=2048)
