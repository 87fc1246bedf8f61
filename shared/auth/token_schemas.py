"""Request and response schemas of /auth/tokens (personal access tokens)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.auth.personal_tokens import MAX_TOKENS_PER_USER, PersonalTokenRecord
from shared.auth.scopes import Scope

AgentId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class TokenCreate(BaseModel):
    """POST /auth/tokens."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="what the token is for")
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=16,
        description="what the token may do",
        json_schema_extra={"uniqueItems": True},
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=366, description="lifetime in days; omitted: the token never expires"
    )
    agent_ids: list[AgentId] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="restrict the token to these of your agents (omitted: all of them)",
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("scopes", "agent_ids")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("must not repeat an entry")
        return value


class TokenPublic(BaseModel):
    """A personal access token as the API shows it (never its secret or hash)."""

    id: str
    name: str
    scopes: list[Scope]
    agent_ids: list[str] | None
    hint: str = Field(description="the prefix and last characters of the secret, to recognise it")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None = Field(description="coarse: updated at most once an hour")

    @classmethod
    def of(cls, record: PersonalTokenRecord) -> TokenPublic:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class TokenCreated(BaseModel):
    token: TokenPublic
    secret: str = Field(description="the token itself: shown only in this response, store it now")


class TokenList(BaseModel):
    items: list[TokenPublic] = Field(description=f"newest first; at most {MAX_TOKENS_PER_USER}")
