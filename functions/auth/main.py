"""The `auth` Cloud Function: /auth (see API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.auth.schemas import (
    LoginForm,
    LoginRequest,
    LogoutRequest,
    PasswordGrant,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserUpdate,
)
from shared.auth.token_schemas import TokenCreate, TokenCreated, TokenList
from shared.auth.users import UserPublic
from shared.health import HealthReport, health_report
from shared.web import Reply, RequestContext, Router, serve

router = Router("auth", ("/auth",))


@router.route("GET", "/auth/health", auth="public", response=HealthReport)
def health(ctx: RequestContext) -> dict[str, object]:
    """Which backends this function reaches (503 when one is down)."""
    return health_report("auth", ("firestore",))


@router.route(
    "POST",
    "/auth/register",
    body=UserCreate,
    response=UserPublic,
    status=201,
    auth="public",
    errors=(409,),
)
def register(ctx: RequestContext) -> UserPublic:
    """Create an account with a username, email and password."""
    from shared.auth import service

    return UserPublic.of(service.register(ctx.body))


@router.route(
    "POST",
    "/auth/login",
    body=LoginRequest,
    form_body=LoginForm,
    response=TokenPair,
    auth="public",
    errors=(401, 429),
)
def login(ctx: RequestContext) -> TokenPair:
    """Exchange a username (or email) and password for an access and a refresh token.

    Wrong username and wrong password give the same 401; repeated failures for an account
    or a client give 429. The OAuth2 password-grant form belongs to `POST /auth/oauth/token`
    (this operation still accepts it from older clients, deprecated).
    """
    from shared.auth import service

    return service.login(ctx.body, ctx.client_ip)


@router.route(
    "POST",
    "/auth/oauth/token",
    body=PasswordGrant,
    form_only=True,
    response=TokenPair,
    auth="public",
    errors=(401, 429),
)
def oauth_token(ctx: RequestContext) -> TokenPair:
    """The OAuth2 token endpoint: the password grant, form-encoded (RFC 6749 §4.3.2).

    Same tokens, errors and throttling as `POST /auth/login`.
    """
    from shared.auth import service

    return service.login(ctx.body.as_login(), ctx.client_ip)


@router.route("POST", "/auth/refresh", body=RefreshRequest, response=TokenPair, auth="public", errors=(401,))
def refresh(ctx: RequestContext) -> TokenPair:
    """Rotate a refresh token into a new token pair; reusing a rotated token ends the session."""
    from shared.auth import service

    return service.refresh_tokens(ctx.body.refresh_token)


@router.route("POST", "/auth/logout", body=LogoutRequest, status=204, auth="public")
def logout(ctx: RequestContext) -> None:
    """End the session the refresh token belongs to (204 even if it is unknown)."""
    from shared.auth import service

    service.logout(ctx.body.refresh_token)


@router.route("GET", "/auth/me", response=UserPublic, errors=(401, 403, 409), scope="any")
def me(ctx: RequestContext) -> UserPublic:
    """The calling user (a first Firebase ID token provisions it: 403 without an email,
    409 when the email belongs to another account)."""
    from shared.auth.users import get_user
    from shared.errors import Unauthorized

    user = get_user(ctx.principal.user_id)
    if user is None:
        raise Unauthorized()
    return UserPublic.of(user)


@router.route(
    "PATCH",
    "/auth/users/{user_id}",
    body=UserUpdate,
    response=UserPublic,
    roles={"admin"},
    errors=(401, 403, 404, 409),
    scope="admin",
)
def update_user(ctx: RequestContext) -> UserPublic:
    """Change a user's role or deactivate/reactivate them (admins only)."""
    from shared.auth import service

    return UserPublic.of(service.admin_update_user(ctx.principal, ctx.params["user_id"], ctx.body))


# -- personal access tokens --------------------------------------------------------------------


@router.route(
    "POST",
    "/auth/tokens",
    body=TokenCreate,
    response=TokenCreated,
    status=201,
    errors=(403, 409),
    scope="interactive",
)
def create_token(ctx: RequestContext) -> Reply:
    """Create a personal access token; its `secret` is in this response only (store it now).

    Scopes the owner's role does not allow → 403 `scope_exceeds_role`; `agent_ids` must name
    the caller's own agents (422). Personal access tokens cannot manage tokens (403).
    """
    from shared.auth import token_service

    created = token_service.create(ctx.principal, ctx.body)
    return Reply(created, status=201, headers={"Location": f"/auth/tokens/{created.token.id}"})


@router.route("GET", "/auth/tokens", response=TokenList, scope="interactive")
def list_tokens(ctx: RequestContext) -> TokenList:
    """My personal access tokens, newest first (never their secrets)."""
    from shared.auth import token_service

    return token_service.list_mine(ctx.principal)


@router.route("DELETE", "/auth/tokens/{token_id}", status=204, errors=(404,), scope="interactive")
def revoke_token(ctx: RequestContext) -> None:
    """Revoke one of my personal access tokens: it stops working at once."""
    from shared.auth.personal_tokens import revoke_token

    revoke_token(ctx.principal.user_id, ctx.params["token_id"])


@functions_framework.http
def auth_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
