"""``current_user``: the one way every function learns who is calling."""

from __future__ import annotations

import flask

from shared.auth.principal import Principal
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


def principal_from_token(token: str) -> Principal:
    """Verify a bearer token (ours or a Firebase ID token) and load its active user."""
    if looks_like_service_token(token):
        claims = decode_access_token(token)
        user = get_user(claims["sub"])
        # Re-read on every request so deactivation and role changes apply at once.
        if user is None or not user.is_active:
            raise Unauthorized()
        return Principal(user_id=user.id, username=user.username, role=user.role, auth_method="password")
    from shared.auth.firebase import principal_from_firebase_token

    return principal_from_firebase_token(token)


def current_user_or_none(request: flask.Request) -> Principal | None:
    token = bearer_token(request)
    return principal_from_token(token) if token is not None else None


def current_user(request: flask.Request) -> Principal:
    principal = current_user_or_none(request)
    if principal is None:
        raise Unauthorized()
    return principal
