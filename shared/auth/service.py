"""The /auth use cases: register, login, refresh, logout, and admin user updates."""

from __future__ import annotations

import logging

from shared.auth import passwords, refresh, throttle
from shared.auth.principal import Principal
from shared.auth.schemas import LoginRequest, TokenPair, UserCreate, UserUpdate
from shared.auth.tokens import issue_access_token
from shared.auth.users import (
    UserRecord,
    create_user,
    find_user_id_by_email,
    find_user_id_by_username,
    get_user,
    set_password_hash,
    update_user,
    username_key,
)
from shared.errors import Conflict, NotFound, Unauthorized, ValidationFailed

_log = logging.getLogger(__name__)


def _login_failed() -> Unauthorized:
    # One message for unknown user, wrong password, no password and inactive account.
    return Unauthorized("incorrect username or password", code="invalid_credentials")


def register(request: UserCreate) -> UserRecord:
    """Create a password user; 409 if the username or email is taken."""
    user = create_user(
        username=request.username,
        email=request.email,
        password_hash=passwords.hash_password(request.password),
    )
    _log.info("user registered", extra={"user_id": user.id})
    return user


def _find_login_user(identifier: str) -> UserRecord | None:
    user_id = find_user_id_by_email(identifier) if "@" in identifier else find_user_id_by_username(identifier)
    return get_user(user_id) if user_id else None


def _issue_pair(user: UserRecord) -> TokenPair:
    access_token, expires_in = issue_access_token(user.id, user.role, user.username)
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh.issue_refresh_token(user.id),
        expires_in=expires_in,
    )


def login(request: LoginRequest, client_ip: str) -> TokenPair:
    """Exchange a username (or email) and password for a token pair.

    Throttled per (client, account) pair and per account before the password is checked
    (``shared.auth.throttle``); every failure costs one Argon2 verification and gives the
    same 401, whatever the cause.
    """
    user = _find_login_user(request.username)
    # Known accounts are throttled by id (username and email logins share one budget);
    # unknown identifiers by name, so guessing them is throttled just the same.
    account_key = f"user:{user.id}" if user else f"name:{username_key(request.username)}"
    throttle_state = throttle.check_login_allowed(account_key, client_ip)
    if user is None or user.password_hash is None:
        passwords.burn_verification(request.password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, request.password)
    if user is None or not ok or not user.is_active:
        throttle.record_login_failure(throttle_state)
        _log.info("login failed", extra={"user_id": user.id if user else None})
        raise _login_failed()
    assert user.password_hash is not None
    if passwords.needs_rehash(user.password_hash):
        set_password_hash(user.id, passwords.hash_password(request.password))
        _log.info("password rehashed with current parameters", extra={"user_id": user.id})
    throttle.clear_login_failures(throttle_state)
    _log.info("login succeeded", extra={"user_id": user.id})
    return _issue_pair(user)


def refresh_tokens(refresh_token: str) -> TokenPair:
    """Rotate a refresh token into a new pair (401 if it is not a live, unused token)."""
    rotation = refresh.rotate_refresh_token(refresh_token)
    user = get_user(rotation.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("invalid or expired refresh token")
    access_token, expires_in = issue_access_token(user.id, user.role, user.username)
    return TokenPair(access_token=access_token, refresh_token=rotation.refresh_token, expires_in=expires_in)


def logout(refresh_token: str) -> None:
    """Revoke the session (token family) of ``refresh_token``; unknown tokens are ignored."""
    if refresh.revoke_refresh_family(refresh_token):
        _log.info("logged out")


def admin_update_user(admin: Principal, user_id: str, request: UserUpdate) -> UserRecord:
    """Change a user's role and/or active flag (the route admits admins only)."""
    changes = request.changes()
    if not changes:
        raise ValidationFailed.field("body", "give at least one of: role, is_active", error_type="missing")
    if get_user(user_id) is None:
        raise NotFound(f"user '{user_id}' not found")
    if user_id == admin.user_id and (
        changes.get("is_active") is False or changes.get("role", "admin") != "admin"
    ):
        # An admin cannot lock themselves (possibly the last admin) out.
        raise Conflict("admins cannot deactivate or demote themselves", code="self_modification")
    user = update_user(user_id, changes)
    if changes.get("is_active") is False:
        revoked = refresh.revoke_user_refresh_tokens(user_id, reason="deactivated")
        _log.info("user deactivated", extra={"user_id": user_id, "revoked_sessions": revoked})
    _log.info(
        "user updated",
        extra={"user_id": user_id, "by_user_id": admin.user_id, "fields": sorted(changes)},
    )
    return user
