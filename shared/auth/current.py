"""``current_user``: the one way every function learns who is calling."""

from __future__ import annotations

import contextvars
import functools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import flask

from shared.auth.personal_tokens import looks_like_personal_token
from shared.auth.principal import ROLES, Principal
from shared.auth.tokens import decode_access_token, looks_like_service_token
from shared.auth.users import get_user
from shared.errors import Unauthorized


def bearer_token(request: flask.Request) -> str | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise Unauthorized()
    return token


def _active_principal(user_id: str) -> Principal:
    user = get_user(user_id)
    # Re-read on every request so deactivation and role changes apply at once.
    if user is None or not user.is_active:
        raise Unauthorized()
    return Principal(user_id=user.id, username=user.username, role=user.role, auth_method="password")


def principal_from_token(token: str) -> Principal:
    """Verify a bearer token (a personal access token, one of our access tokens or a
    Firebase ID token) and load its active user."""
    if looks_like_personal_token(token):
        from shared.auth.personal_tokens import principal_from_personal_token

        return principal_from_personal_token(token)
    if looks_like_service_token(token):
        return _active_principal(decode_access_token(token)["sub"])
    from shared.auth.firebase import principal_from_firebase_token

    return principal_from_firebase_token(token)


@dataclass(frozen=True)
class PendingPrincipal:
    """The principal a verified access token claims, and the re-read that confirms it."""

    claimed: Principal
    confirmed: Future[Principal]  # raises Unauthorized when the user is gone or deactivated


@functools.cache
def _confirmations() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="principal")


def start_principal_check(request: flask.Request) -> PendingPrincipal | None:
    """For our own access tokens that carry the username: the claimed principal at once, with
    the user re-read running concurrently, so a read-only request's own reads overlap it.

    None when there is no token, or it is not one of ours with those claims (use
    ``current_user`` then). A bad token is a 401 here, before anything runs.
    """
    token = bearer_token(request)
    if token is None or not looks_like_service_token(token):
        return None
    claims = decode_access_token(token)
    username, role = claims.get("name"), claims.get("role")
    if not isinstance(username, str) or role not in ROLES:
        return None
    claimed = Principal(user_id=claims["sub"], username=username, role=role, auth_method="password")
    # The copied context carries the request's Firestore counters and log fields.
    context = contextvars.copy_context()
    return PendingPrincipal(claimed, _confirmations().submit(context.run, _active_principal, claimed.user_id))


def current_user_or_none(request: flask.Request) -> Principal | None:
    token = bearer_token(request)
    return principal_from_token(token) if token is not None else None


def current_user(request: flask.Request) -> Principal:
    principal = current_user_or_none(request)
    if principal is None:
        raise Unauthorized()
    return principal
