"""The agents API's schema family: Create / Update (the definition), Public, list queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from shared.agents.definition import AgentDefinition, AgentName
from shared.agents.repository import AgentRecord, AgentSource


class AgentFromTemplate(BaseModel):
    """``POST /agents`` body naming a built-in template (``GET /templates``) instead of a definition."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=64, description="A name from GET /templates.")
    name: AgentName | None = Field(default=None, description="Default: the template's name.")
    display_name: str | None = Field(default=None, max_length=120)


class AgentCreate(RootModel[AgentDefinition | AgentFromTemplate]):
    """``POST /agents`` body: a full definition, or ``{"template", "name"}``.

    The presence of ``template`` picks the form, so validation errors name the fields of
    that form only (``limits.max_requests``, not a union branch).
    """

    @model_validator(mode="wrap")
    @classmethod
    def _pick_form(cls, value: Any, handler: Any) -> Any:
        if isinstance(value, cls | AgentDefinition | AgentFromTemplate):
            return handler(value)
        if isinstance(value, dict) and "template" in value:
            return cls(root=AgentFromTemplate.model_validate(value))
        return cls(root=AgentDefinition.model_validate(value))


class AgentUpdate(AgentDefinition):
    """``PUT /agents/{id}`` body: the full new definition (stored as version n+1)."""


class AgentPublic(AgentDefinition):
    """The agent object: ``{id, owner_id, version, definition fields..., created_at, updated_at, source}``."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=None)

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
