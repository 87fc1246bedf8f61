"""Firebase Auth ID tokens as bearer tokens.

Tokens are verified by firebase-admin (signature, issuer, audience, expiry, and — with
``check_revoked`` — revocation and disabled accounts) on a lazily initialised named app
for ``settings.firebase_project`` (or the GCP project). The first verified call of a
Firebase identity provisions a linked local user (``firebase_uids/{uid}`` reserves the link
in the user's creation transaction); later calls use that user, so roles and deactivation
are ours, exactly as for password users.

Emulator safety: firebase-admin switches itself to the emulator (which accepts unsigned,
even tampered, tokens) whenever ``FIREBASE_AUTH_EMULATOR_HOST`` is in the process
environment. Outside emulator mode (``ENVIRONMENT=cloud``) that variable therefore makes
us refuse every Firebase token rather than let the SDK trust unsigned ones.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from typing import Any

from shared.auth.principal import Principal
from shared.auth.schemas import is_valid_email, normalise_email
from shared.auth.users import (
    UserRecord,
    create_user,
    find_user_id_by_firebase_uid,
    get_user,
)
from shared.errors import ConfigurationError, Conflict, Forbidden, ServiceUnavailable, Unauthorized
from shared.settings import get_settings

EMULATOR_ENV_VAR = "FIREBASE_AUTH_EMULATOR_HOST"
HTTP_TIMEOUT_SECONDS = 10
_PROVISION_ATTEMPTS = 5
_USERNAME_BASE_LENGTH = 40

_log = logging.getLogger(__name__)
_apps_lock = threading.Lock()


def firebase_project_id() -> str:
    settings = get_settings()
    return settings.firebase_project or settings.gcp_project


def _emulator_host() -> str | None:
    """The emulator the SDK would use, after refusing it outside emulator mode."""
    host = os.environ.get(EMULATOR_ENV_VAR) or None
    if host and not get_settings().is_emulated_firebase_auth:
        _log.error("%s is set outside emulator mode; refusing Firebase ID tokens", EMULATOR_ENV_VAR)
        raise Unauthorized()
    return host


def _app(project_id: str, emulator_host: str | None) -> Any:
    """The named firebase-admin app for this project (and emulator), created once."""
    import firebase_admin  # pyright: ignore[reportMissingTypeStubs]

    sdk: Any = firebase_admin
    name = f"agents-service:{project_id}:{emulator_host or 'google'}"
    with _apps_lock:
        try:
            return sdk.get_app(name)
        except ValueError:
            return sdk.initialize_app(
                options={"projectId": project_id, "httpTimeout": HTTP_TIMEOUT_SECONDS}, name=name
            )


def verify_firebase_token(token: str) -> dict[str, Any]:
    """The verified claims of a Firebase ID token; 401 for any defect, 503 if Firebase is down."""
    emulator_host = _emulator_host()
    from firebase_admin import auth, exceptions  # pyright: ignore[reportMissingTypeStubs]
    from google.auth.exceptions import DefaultCredentialsError

    auth_any: Any = auth
    try:
        claims: dict[str, Any] = auth_any.verify_id_token(
            token, app=_app(firebase_project_id(), emulator_host), check_revoked=True
        )
    except (auth.InvalidIdTokenError, auth.UserDisabledError, auth.UserNotFoundError, ValueError):
        # Revoked and expired tokens are InvalidIdTokenErrors too.
        raise Unauthorized() from None
    except (auth.CertificateFetchError, exceptions.UnavailableError, exceptions.DeadlineExceededError):
        raise ServiceUnavailable("Firebase Auth is unavailable", retry_after=2) from None
    except DefaultCredentialsError:
        _log.error("no Google credentials for firebase-admin; cannot verify Firebase ID tokens")
        raise ConfigurationError("Firebase token verification is not configured") from None
    except exceptions.FirebaseError as exc:
        _log.warning("Firebase token verification failed: %s", type(exc).__name__)
        raise ServiceUnavailable("Firebase Auth is unavailable", retry_after=2) from None
    uid = claims.get("uid") or claims.get("sub")
    if not isinstance(uid, str) or not uid:
        raise Unauthorized()
    return claims


def _username_base(email: str, uid: str) -> str:
    local = re.sub(r"[^A-Za-z0-9_.-]", "", email.partition("@")[0])[:_USERNAME_BASE_LENGTH]
    if len(local) >= 3:
        return local
    return "user_" + re.sub(r"[^A-Za-z0-9]", "", uid)[:12].lower()


def _linked_user(uid: str) -> UserRecord | None:
    user_id = find_user_id_by_firebase_uid(uid)
    return get_user(user_id) if user_id else None


def provision_firebase_user(uid: str, email: str | None) -> UserRecord:
    """The local user linked to Firebase ``uid``, created on first use.

    A username is derived from the email (suffixed when taken). An email already registered
    to another local account is a 409: identities are never linked by email alone.
    """
    existing = _linked_user(uid)
    if existing is not None:
        return existing
    if not email or not is_valid_email(email):
        raise Forbidden(
            "this Firebase account has no usable email address; one is required",
            code="email_required",
        )
    address = normalise_email(email)
    base = _username_base(address, uid)
    for attempt in range(_PROVISION_ATTEMPTS):
        candidate = base if attempt == 0 else f"{base}-{secrets.token_hex(3)}"
        try:
            user = create_user(username=candidate, email=address, password_hash=None, firebase_uid=uid)
        except Conflict as exc:
            # A concurrent first request for the same identity may have won the race.
            linked = _linked_user(uid)
            if linked is not None:
                return linked
            if exc.error_code == "email_taken":
                raise Conflict(
                    "an account with this email already exists and is not linked to this Firebase identity",
                    code="email_taken",
                    details={"field": "email"},
                ) from None
            continue
        _log.info("provisioned user for Firebase identity", extra={"user_id": user.id})
        return user
    raise Conflict("could not allocate a username for this Firebase identity", code="username_taken")


def principal_from_firebase_token(token: str) -> Principal:
    """Verify a Firebase ID token and return its (provisioned, active) local user."""
    claims = verify_firebase_token(token)
    uid = str(claims.get("uid") or claims.get("sub"))
    email = claims.get("email")
    user = provision_firebase_user(uid, email if isinstance(email, str) else None)
    if not user.is_active:
        raise Unauthorized()
    return Principal(user_id=user.id, username=user.username, role=user.role, auth_method="firebase")
