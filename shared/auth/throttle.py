"""Login throttling: failed logins counted per account and per client IP in fixed windows.

Each (subject, window) pair is one document in ``login_throttle`` whose ``failures`` field
is bumped with an atomic server-side increment (no read, no transaction contention). A
subject that reached its limit in the current window is refused with 429 until the window
ends. Documents carry ``expires_at`` (the end of the following window) so a Firestore TTL
policy on that field removes them; nothing reads a document once its window has passed.

Subjects are stored as sha256 digests: the attempted identifier may be anything a caller
typed (even a password pasted into the username field), and it should not sit in a table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass

from shared import db
from shared.errors import RateLimited
from shared.settings import get_settings

LOGIN_THROTTLE = "login_throttle"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Window:
    index: int
    ends_at: int


def _window(now: float, length: int) -> _Window:
    index = int(now) // length
    return _Window(index=index, ends_at=(index + 1) * length)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def _account_doc_id(account_key: str, window: _Window) -> str:
    return f"acct:{_digest(account_key)}:{window.index}"


def _ip_doc_id(client_ip: str, window: _Window) -> str:
    return f"ip:{_digest(client_ip)}:{window.index}"


def check_login_allowed(account_key: str, client_ip: str) -> int:
    """Raise 429 (with Retry-After) when the account or the client used up its failures;
    otherwise return the account's failures so far in this window."""
    settings = get_settings()
    window = _window(time.time(), settings.login_throttle_window_seconds)
    collection = db.collection(LOGIN_THROTTLE)
    account_snap, ip_snap = db.get_all(
        [
            collection.document(_account_doc_id(account_key, window)),
            collection.document(_ip_doc_id(client_ip, window)),
        ]
    )
    limits = (
        (account_snap, settings.login_max_failures_per_account, "account"),
        (ip_snap, settings.login_max_failures_per_ip, "client"),
    )
    for snap, limit, scope in limits:
        data = snap.to_dict() if snap.exists else None
        if data and int(data.get("failures", 0)) >= limit:
            retry_after = max(1, window.ends_at - int(time.time()))
            _log.warning("login throttled", extra={"throttle_scope": scope, "retry_after": retry_after})
            raise RateLimited(
                "too many failed login attempts; try again later",
                code="login_throttled",
                retry_after=retry_after,
            )
    account_data = account_snap.to_dict() if account_snap.exists else None
    return int(account_data.get("failures", 0)) if account_data else 0


def record_login_failure(account_key: str, client_ip: str) -> None:
    """Count one failed login against both the account and the client, atomically."""
    settings = get_settings()
    window = _window(time.time(), settings.login_throttle_window_seconds)
    expires_at = dt.datetime.fromtimestamp(window.ends_at + settings.login_throttle_window_seconds, tz=dt.UTC)
    collection = db.collection(LOGIN_THROTTLE)

    def build(writes: db.CountingWrites) -> None:
        for doc_id, scope in (
            (_account_doc_id(account_key, window), "account"),
            (_ip_doc_id(client_ip, window), "client"),
        ):
            writes.set(
                collection.document(doc_id),
                {"scope": scope, "failures": db.increment(1), "expires_at": expires_at},
                merge=True,
            )

    db.commit_batch(build)


def clear_account_failures(account_key: str) -> None:
    """A successful login forgives the account's failures (not the client's: one valid
    account must not let a client reset its own counter while guessing others)."""
    window = _window(time.time(), get_settings().login_throttle_window_seconds)
    db.delete(db.collection(LOGIN_THROTTLE).document(_account_doc_id(account_key, window)))
