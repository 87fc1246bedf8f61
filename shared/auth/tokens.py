"""Access tokens: HS256 JWTs with every claim checked and the algorithm pinned."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from shared.errors import Unauthorized
from shared.settings import get_settings

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "role", "typ"]


def issue_access_token(user_id: str, role: str, username: str | None = None) -> tuple[str, int]:
    """A signed access token for ``user_id`` and its lifetime in seconds.

    With ``username`` (claim ``name``), read-only requests can start from the token's claims
    while the user is re-read concurrently (see ``shared.auth.current.start_principal_check``).
    """
    settings = get_settings()
    now = int(time.time())
    ttl = settings.access_token_ttl_seconds
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "role": role,
        "typ": ACCESS_TOKEN_TYPE,
    }
    if username is not None:
        claims["name"] = username
    return jwt.encode(claims, settings.jwt_signing_key(), algorithm=ALGORITHM), ttl


def looks_like_service_token(token: str) -> bool:
    """True for a JWT whose header claims our algorithm (Firebase tokens use RS256 or none)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    return header.get("alg") == ALGORITHM


def decode_access_token(token: str) -> dict[str, Any]:
    """The verified claims of an access token; any defect is a generic 401."""
    settings = get_settings()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_signing_key(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            leeway=5,
        )
    except jwt.PyJWTError:
        raise Unauthorized() from None
    if claims.get("typ") != ACCESS_TOKEN_TYPE or not isinstance(claims.get("sub"), str):
        raise Unauthorized()
    return claims
