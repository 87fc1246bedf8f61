"""Personal access tokens: long-lived, scoped credentials for scripts, CI and other clients.

The secret is ``agpat_`` + 36 random base62 characters + a 6-character base62 CRC-32 of
them (the GitHub token layout: the prefix lets secret scanners find leaked tokens, the
checksum lets them, and us, discard typos without a lookup). Only the SHA-256 of the secret
is stored, as the document id of ``personal_access_tokens/{sha256}`` (a high-entropy secret
needs no slow hash). Every use re-reads the owner, so deactivation stops a token at once;
``last_used_at`` is written at most once per ``PAT_LAST_USED_GRANULARITY_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import string
import uuid
import zlib
from typing import Any

from pydantic import BaseModel

from shared import db
from shared.auth.principal import Principal, Role
from shared.auth.scopes import SCOPES, Scope, allowed_for_role
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized
from shared.settings import get_settings

PERSONAL_ACCESS_TOKENS = "personal_access_tokens"
PREFIX = "agpat_"
_ALPHABET = string.digits + string.ascii_letters
_RANDOM_LENGTH = 36  # 36 base62 characters ≈ 214 bits
_CHECKSUM_LENGTH = 6
SECRET_LENGTH = len(PREFIX) + _RANDOM_LENGTH + _CHECKSUM_LENGTH
MAX_TOKENS_PER_USER = 50

_log = logging.getLogger(__name__)


class PersonalTokenRecord(BaseModel):
    """``personal_access_tokens/{sha256 of the secret}``."""

    id: str
    user_id: str
    name: str
    scopes: list[Scope]
    agent_ids: list[str] | None = None
    hint: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


def _base62(number: int, width: int) -> str:
    out: list[str] = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


def new_secret() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return PREFIX + body + _checksum(body)


def looks_like_personal_token(token: str) -> bool:
    return token.startswith(PREFIX)


def well_formed(secret: str) -> bool:
    """Prefix, length, alphabet and checksum are right (a typo or a forgery fails cheaply)."""
    if len(secret) != SECRET_LENGTH or not secret.startswith(PREFIX):
        return False
    rest = secret[len(PREFIX) :]
    if any(c not in _ALPHABET for c in rest):
        return False
    body, checksum = rest[:_RANDOM_LENGTH], rest[_RANDOM_LENGTH:]
    return hmac.compare_digest(_checksum(body), checksum)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _ref(secret: str) -> Any:
    return db.collection(PERSONAL_ACCESS_TOKENS).document(_digest(secret))


def _where(field: str, value: str) -> Any:
    from google.cloud.firestore import FieldFilter

    collection: Any = db.collection(PERSONAL_ACCESS_TOKENS)
    return collection.where(filter=FieldFilter(field, "==", value))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(data: dict[str, Any]) -> PersonalTokenRecord:
    return PersonalTokenRecord.model_validate(data)


def create_token(
    owner_id: str,
    role: Role,
    *,
    name: str,
    scopes: list[Scope],
    expires_in_days: int | None,
    agent_ids: list[str] | None,
) -> tuple[PersonalTokenRecord, str]:
    """Store a new token for ``owner_id``; returns it with its secret (shown only once)."""
    beyond = [s for s in scopes if not allowed_for_role(s, role)]
    if beyond:
        raise Forbidden(
            "a token cannot have scopes its owner's role does not allow: " + ", ".join(beyond),
            code="scope_exceeds_role",
            details={"scopes": beyond},
        )
    owned = db.count(_where("user_id", owner_id))
    if owned >= MAX_TOKENS_PER_USER:
        raise Conflict(
            f"at most {MAX_TOKENS_PER_USER} tokens per user: revoke one first", code="token_limit_reached"
        )
    now = _now()
    secret = new_secret()
    record = PersonalTokenRecord(
        id=uuid.uuid4().hex,
        user_id=owner_id,
        name=name,
        scopes=[s for s in SCOPES if s in scopes],
        agent_ids=agent_ids,
        hint=PREFIX + "…" + secret[-4:],
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_in_days) if expires_in_days is not None else None,
    )
    db.create(_ref(secret), record.model_dump())
    _log.info("personal access token created", extra={"user_id": owner_id, "token_id": record.id})
    return record, secret


def list_tokens(owner_id: str) -> list[PersonalTokenRecord]:
    """The owner's tokens, newest first (at most ``MAX_TOKENS_PER_USER``, so no paging)."""
    snaps = db.query(_where("user_id", owner_id))
    records = [_record(d) for s in snaps if (d := s.to_dict())]
    return sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)


def revoke_token(owner_id: str, token_id: str) -> None:
    """Delete one of the owner's tokens (404 for unknown ids and other users' tokens)."""
    if not db.is_valid_doc_id(token_id):
        raise NotFound("token not found")
    snaps = db.query(_where("id", token_id).limit(1))
    snap = next((s for s in snaps if (s.to_dict() or {}).get("user_id") == owner_id), None)
    if snap is None:
        raise NotFound("token not found")
    db.delete(snap.reference)
    _log.info("personal access token revoked", extra={"user_id": owner_id, "token_id": token_id})


def principal_from_personal_token(secret: str) -> Principal:
    """The principal a personal access token stands for; 401 when it is malformed, unknown
    (never issued or revoked), expired, or its owner is gone or deactivated."""
    from shared.auth.users import get_user

    if not well_formed(secret):
        raise Unauthorized()
    ref = _ref(secret)
    snap = db.get(ref)
    data = snap.to_dict() if snap.exists else None
    if not data:
        raise Unauthorized()
    token = _record(data)
    now = _now()
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("the token has expired", code="token_expired")
    user = get_user(token.user_id)
    if user is None or not user.is_active:
        raise Unauthorized()
    granularity = get_settings().pat_last_used_granularity_seconds
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= granularity:
        try:
            db.update(ref, {"last_used_at": now})
        except Exception:  # best effort: a failed bookkeeping write never fails the request
            _log.warning("could not record a token's last use", extra={"token_id": token.id})
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        auth_method="token",
        token_id=token.id,
        scopes=frozenset(token.scopes),
        agent_ids=frozenset(token.agent_ids) if token.agent_ids is not None else None,
    )
