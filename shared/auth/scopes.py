"""Personal-access-token scopes: the one table of what a token may be allowed to do.

Every route that needs a user declares ``scope=`` (``Router.route``): one of ``SCOPES``, or
``ANY_TOKEN`` (any valid credential, e.g. ``GET /auth/me``), or ``INTERACTIVE`` (a login
session only: personal access tokens are refused, e.g. managing tokens themselves).
Login sessions (access tokens, Firebase ID tokens) carry every scope; a personal access
token carries the scopes it was created with, and its owner's *current* role still decides
role-gated routes, so a token never exceeds its owner.
"""

from __future__ import annotations

from typing import Literal, get_args

from shared.errors import Forbidden

Scope = Literal[
    "agents:read",
    "agents:write",
    "runs",
    "marketplace:write",
    "webhooks",
    "schedules",
    "mcp-servers",
    "admin",
]
SCOPES: tuple[Scope, ...] = get_args(Scope)

# What each scope allows (shown by the console, the CLI and the docs).
SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    "agents:read": "read agents, their versions and workspace files",
    "agents:write": "create, change and delete agents and workspace files",
    "runs": "run agents; read runs, sessions and batches (also the OpenAI-compatible API, AG-UI, MCP, A2A)",
    "marketplace:write": "publish, remove, install and rate marketplace listings",
    "webhooks": "manage webhook endpoints and read their deliveries",
    "schedules": "manage scheduled runs",
    "mcp-servers": "register remote MCP servers, list their tools and store your credentials for them",
    "admin": "administer users (only for tokens of admins; needs the admin role when used)",
}

# Scopes a role may put on a token; a token never carries more than its owner's role allows.
ROLE_ONLY_SCOPES: dict[Scope, frozenset[str]] = {"admin": frozenset({"admin"})}

ANY_TOKEN = "any"
INTERACTIVE = "interactive"
RouteScope = Scope | Literal["any", "interactive"]
ROUTE_SCOPES: tuple[str, ...] = (*SCOPES, ANY_TOKEN, INTERACTIVE)


class ScopeMissing(Forbidden):
    code = "insufficient_scope"


def allowed_for_role(scope: Scope, role: str) -> bool:
    roles = ROLE_ONLY_SCOPES.get(scope)
    return roles is None or role in roles


def check_route_scope(token_scopes: frozenset[str] | None, required: str | None) -> None:
    """403 ``insufficient_scope`` unless a credential with ``token_scopes`` (None: a login
    session, which has them all) may call a route declaring ``required`` (None: a route that
    declares no scope, which personal access tokens cannot call)."""
    if token_scopes is None or required == ANY_TOKEN:
        return
    if required is None or required == INTERACTIVE:
        raise ScopeMissing(
            "personal access tokens cannot call this route: use a login session",
            code="interactive_login_required",
        )
    if required not in token_scopes:
        raise ScopeMissing(f"this token lacks the scope '{required}'", details={"required_scope": required})
