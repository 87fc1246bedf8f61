"""Refresh tokens: opaque, stored only as sha256 digests, rotated on every use.

Every login starts a *family* (``refresh_token_families/{family_id}``); each refresh marks
the presented token ``rotated`` and issues its successor in the same family. Presenting a
token that was already rotated means two parties hold the family (a stolen token), so the
whole family is revoked and both parties must log in again. Logout revokes the family.

Documents carry ``expires_at`` for a Firestore TTL policy; expiry is also checked here.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from shared import db
from shared.auth.users import USERS
from shared.errors import Unauthorized
from shared.settings import get_settings

REFRESH_TOKENS = "refresh_tokens"
REFRESH_TOKEN_FAMILIES = "refresh_token_families"
TOKEN_BYTES = 32

_log = logging.getLogger(__name__)


class _Outcome(enum.Enum):
    ROTATED = "rotated"
    INVALID = "invalid"
    REUSED = "reused"


@dataclass(frozen=True)
class Rotation:
    user_id: str
    refresh_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _expiry(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=get_settings().refresh_token_ttl_seconds)


def _token_doc(user_id: str, family_id: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "family_id": family_id,
        "status": "active",
        "created_at": now,
        "expires_at": _expiry(now),
    }


def _invalid() -> Unauthorized:
    return Unauthorized("invalid or expired refresh token")


def issue_refresh_token(user_id: str) -> str:
    """Start a new family for ``user_id`` and return its first (plain) refresh token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    family_id = uuid.uuid4().hex
    now = _now()

    def build(writes: db.CountingWrites) -> None:
        writes.create(
            db.collection(REFRESH_TOKEN_FAMILIES).document(family_id),
            {"user_id": user_id, "revoked": False, "created_at": now, "expires_at": _expiry(now)},
        )
        writes.create(
            db.collection(REFRESH_TOKENS).document(_digest(token)), _token_doc(user_id, family_id, now)
        )

    db.commit_batch(build)
    return token


def rotate_refresh_token(token: str) -> Rotation:
    """Exchange ``token`` for its successor; 401 if it is unknown, expired, revoked, belongs
    to an inactive user, or was already used (which also revokes its family)."""
    token_ref = db.collection(REFRESH_TOKENS).document(_digest(token))
    successor = secrets.token_urlsafe(TOKEN_BYTES)
    successor_ref = db.collection(REFRESH_TOKENS).document(_digest(successor))
    seen: dict[str, str] = {}

    def rotate(tx: db.Tx) -> _Outcome:
        now = _now()
        snap = tx.get(token_ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data["expires_at"] <= now:
            return _Outcome.INVALID
        user_id, family_id = str(data["user_id"]), str(data["family_id"])
        seen.update(user_id=user_id, family_id=family_id)
        family_ref = db.collection(REFRESH_TOKEN_FAMILIES).document(family_id)
        family_snap, user_snap = tx.get_all([family_ref, db.collection(USERS).document(user_id)])
        family = family_snap.to_dict() if family_snap.exists else None
        user = user_snap.to_dict() if user_snap.exists else None
        if not family or family.get("revoked"):
            return _Outcome.INVALID
        if data.get("status") != "active":
            tx.update(family_ref, {"revoked": True, "revoked_reason": "reuse", "revoked_at": now})
            return _Outcome.REUSED
        if not user or not user.get("is_active", False):
            return _Outcome.INVALID
        tx.update(token_ref, {"status": "rotated", "rotated_at": now})
        tx.create(successor_ref, _token_doc(user_id, family_id, now))
        tx.update(family_ref, {"last_used_at": now, "expires_at": _expiry(now)})
        return _Outcome.ROTATED

    outcome = db.run_transaction(rotate)
    if outcome is _Outcome.REUSED:
        _log.warning(
            "refresh token reuse detected; family revoked",
            extra={"user_id": seen.get("user_id"), "family_id": seen.get("family_id")},
        )
    if outcome is not _Outcome.ROTATED:
        raise _invalid()
    return Rotation(user_id=seen["user_id"], refresh_token=successor)


def revoke_refresh_family(token: str) -> bool:
    """Revoke the family ``token`` belongs to (logout); False if the token is unknown."""
    snap = db.get(db.collection(REFRESH_TOKENS).document(_digest(token)))
    data = snap.to_dict() if snap.exists else None
    if not data:
        return False
    db.set(
        db.collection(REFRESH_TOKEN_FAMILIES).document(str(data["family_id"])),
        {"revoked": True, "revoked_reason": "logout", "revoked_at": _now()},
        merge=True,
    )
    return True


def revoke_user_refresh_tokens(user_id: str, *, reason: str) -> int:
    """Revoke every live family of ``user_id`` (deactivation); returns how many."""
    from google.cloud.firestore import FieldFilter

    collection: Any = db.collection(REFRESH_TOKEN_FAMILIES)
    families = db.query(collection.where(filter=FieldFilter("user_id", "==", user_id)))
    live = [snap for snap in families if not (snap.to_dict() or {}).get("revoked")]
    now = _now()
    for start in range(0, len(live), 400):
        chunk = live[start : start + 400]

        def build(writes: db.CountingWrites, chunk: list[db.Snapshot] = chunk) -> None:
            for snap in chunk:
                writes.update(snap.reference, {"revoked": True, "revoked_reason": reason, "revoked_at": now})

        db.commit_batch(build)
    return len(live)
