"""MCP server schemas: ``McpServerCreate``/``McpServerUpdate`` (requests), ``McpServerPublic``
(what the API shows), ``McpServerRecord`` (stored: the tools cache and tool review state), the
tools listing, and the write-only credential.

A registration belongs to one user. Credentials belong to the user who runs the agent and are
stored apart from it (``shared.mcp_servers.credentials``), never in the registration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AuthType = Literal["none", "bearer", "oauth"]
ToolStatus = Literal["enabled", "pending"]
# MCP tool names: 1-128 characters of [A-Za-z0-9_.-] (the 2025-11 naming guidance; wider
# names exist in the wild, so a little more is admitted when listed, but filters use this).
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_.\-/]{1,128}$"
ToolName = Field(pattern=TOOL_NAME_PATTERN)


def _unique(value: list[str] | None) -> list[str] | None:
    if value is not None and len(set(value)) != len(value):
        raise ValueError("tool names must not repeat")
    return value


class McpAuth(BaseModel):
    """How the service authenticates to the server: ``none``, a ``bearer`` token each runner
    stores with ``PUT /mcp-servers/{id}/credential``, or ``oauth`` (authorization code + PKCE,
    ``GET /mcp-servers/{id}/oauth/start``)."""

    model_config = ConfigDict(extra="forbid")

    type: AuthType = "none"
    # oauth only: scopes to ask for (space-joined), and a client id registered with the
    # authorization server beforehand (otherwise dynamic client registration is used).
    scopes: list[str] | None = Field(default=None, max_length=20)
    client_id: str | None = Field(default=None, min_length=1, max_length=256)


class McpServerCreate(BaseModel):
    """``POST /mcp-servers``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(
        min_length=1, max_length=2048, description="the server's Streamable HTTP endpoint (https)"
    )
    auth: McpAuth = Field(default_factory=McpAuth)
    allowed_tools: list[str] | None = Field(
        default=None,
        max_length=200,
        json_schema_extra={"uniqueItems": True},
        description="only these server tools can ever be offered to agents (all when omitted)",
    )
    description: str = Field(default="", max_length=500)

    _unique_tools = field_validator("allowed_tools")(_unique)


class McpServerUpdate(BaseModel):
    """``PATCH /mcp-servers/{id}``: any subset. Changing ``url`` or ``auth.type`` clears the
    tools cache (and, for the URL, every stored credential: they were meant for another server)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    auth: McpAuth | None = None
    allowed_tools: list[str] | None = Field(
        default=None, max_length=200, json_schema_extra={"uniqueItems": True}
    )
    description: str | None = Field(default=None, max_length=500)

    _unique_tools = field_validator("allowed_tools")(_unique)


class McpToolPublic(BaseModel):
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict[str, Any])
    # "pending": the server added it after the registration's tools were reviewed; agents do
    # not get it until the owner accepts it (POST /mcp-servers/{id}/tools/accept).
    status: ToolStatus = "enabled"
    # False when the registration's allowed_tools leave it out.
    allowed: bool = True


class McpServerPublic(BaseModel):
    id: str
    name: str
    url: str
    auth: McpAuth
    allowed_tools: list[str] | None = None
    description: str = ""
    # Whether the caller has a credential stored for it (bearer token or OAuth tokens).
    connected: bool = False
    # Tools the server added since the last review, waiting for acceptance.
    pending_tools: list[str] = Field(default_factory=list[str])
    tools_fetched_at: datetime | None = None
    # Set by a marketplace install: the listing whose manifest named this server.
    listing_id: str | None = None
    created_at: datetime
    updated_at: datetime


class McpServerRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    owner_id: str
    name: str
    url: str
    auth: McpAuth = Field(default_factory=McpAuth)
    allowed_tools: list[str] | None = None
    description: str = ""
    listing_id: str | None = None
    # The tools cache (the last listing) and when it was read.
    tools: list[McpToolPublic] = Field(default_factory=list[McpToolPublic])
    tools_fetched_at: datetime | None = None
    # Tool review: names accepted for agents; None until the first listing takes its tools
    # as the baseline. Names the server adds later are pending until accepted.
    accepted_tools: list[str] | None = None
    pending_tools: list[str] = Field(default_factory=list[str])
    created_at: datetime
    updated_at: datetime

    def public(self, *, connected: bool) -> McpServerPublic:
        data = self.model_dump(include=set(McpServerPublic.model_fields))
        return McpServerPublic.model_validate({**data, "connected": connected})


class McpServerPage(BaseModel):
    items: list[McpServerPublic]
    next_cursor: str | None = None


class McpToolsQuery(BaseModel):
    """``GET /mcp-servers/{id}/tools?refresh=1`` re-reads the server instead of the cache."""

    model_config = ConfigDict(extra="forbid")

    refresh: bool = False


class McpToolList(BaseModel):
    server_id: str
    tools: list[McpToolPublic]
    fetched_at: datetime
    # True when this answer came from the cache (younger than MCP_TOOLS_CACHE_SECONDS).
    cached: bool = False


class McpToolsAccept(BaseModel):
    """``POST /mcp-servers/{id}/tools/accept``: pending tools the owner lets agents use."""

    model_config = ConfigDict(extra="forbid")

    tools: list[str] = Field(min_length=1, max_length=200, json_schema_extra={"uniqueItems": True})

    _unique_tools = field_validator("tools")(_unique)


class McpCredentialPut(BaseModel):
    """``PUT /mcp-servers/{id}/credential``: the caller's bearer token (write-only)."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=8192, description="sent as `Authorization: Bearer <token>`")


class McpCredentialStatus(BaseModel):
    """What the API says about a stored credential (never the credential)."""

    server_id: str
    type: Literal["bearer", "oauth"]
    updated_at: datetime
    expires_at: datetime | None = None


class McpOAuthStart(BaseModel):
    """Open ``authorization_url`` in a browser; the authorization server returns to the callback."""

    authorization_url: str
    state: str
    expires_at: datetime


class McpOAuthCallbackQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, min_length=1, max_length=4096)
    error: str | None = Field(default=None, max_length=200)
    error_description: str | None = Field(default=None, max_length=2000)
    iss: str | None = Field(default=None, max_length=2048)


class McpOAuthConnected(BaseModel):
    server_id: str
    connected: bool = True
    expires_at: datetime | None = None
