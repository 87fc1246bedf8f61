"""Login throttling: growing back-off per (address, account) pair and per account, and a
tighter pair allowance for an address that sprays many accounts.

The policy (docs/api-decisions/auth.md, after OWASP's Authentication and Credential
Stuffing cheat sheets) never locks an account or an address out for others:

- **pair** — failures of one client address on one account. After
  ``LOGIN_MAX_FAILURES_PER_PAIR`` of them, every further failure doubles the wait before
  that address may try that account again (``LOGIN_BACKOFF_BASE_SECONDS`` up to
  ``LOGIN_BACKOFF_MAX_SECONDS``). This is what stops a brute force from one address.
- **account** — failures on one account from every address (a distributed brute force).
  Its allowance, ``LOGIN_MAX_FAILURES_PER_ACCOUNT``, is larger, and past it the same
  growing back-off applies to every address.
- **spray** — an address that failed on ``LOGIN_SPRAY_ACCOUNTS`` different accounts in the
  window is spraying; its pairs then get one failure before the back-off instead of
  ``LOGIN_MAX_FAILURES_PER_PAIR``. An account that address has not failed on is still
  tried normally, so a colleague behind the same NAT logs in with the right password.

Each (subject, window) is one document in ``login_throttle``: ``failures`` is bumped with an
atomic increment, ``last_failure_at`` (epoch seconds) starts the back-off, and ``expires_at``
(end of the following window) lets a Firestore TTL policy remove it. Subjects are stored
as sha256 digests: an attempted identifier may be anything a caller typed (even a password
pasted into the username field), and it should not sit in a table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from shared import db
from shared.errors import RateLimited
from shared.settings import Settings, get_settings

LOGIN_THROTTLE = "login_throttle"

_log = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class _Subjects:
    """The three counters one login attempt touches, in the current window."""

    pair: str
    account: str
    address: str
    window_ends_at: int

    @classmethod
    def of(cls, account_key: str, client_ip: str, now: float) -> _Subjects:
        length = get_settings().login_throttle_window_seconds
        index = int(now) // length
        return cls(
            pair=f"pair:{_digest(client_ip + chr(0) + account_key)}:{index}",
            account=f"acct:{_digest(account_key)}:{index}",
            address=f"ip:{_digest(client_ip)}:{index}",
            window_ends_at=(index + 1) * length,
        )


@dataclass(frozen=True)
class LoginState:
    """What the check read, handed back to ``record_login_failure`` / ``clear``."""

    subjects: _Subjects
    pair_failures: int
    account_failures: int


def _backoff_remaining(data: dict[str, Any] | None, allowance: int, settings: Settings, now: float) -> float:
    """Seconds until the subject may try again (0 while it is within its allowance)."""
    if not data:
        return 0.0
    failures = int(data.get("failures", 0))
    if failures < allowance:
        return 0.0
    exponent = min(failures - allowance, 30)
    delay = min(settings.login_backoff_base_seconds * 2**exponent, settings.login_backoff_max_seconds)
    return float(data.get("last_failure_at", 0.0)) + delay - now


def check_login_allowed(account_key: str, client_ip: str) -> LoginState:
    """Raise 429 (with Retry-After) while the pair or the account is backing off."""
    settings = get_settings()
    now = _now()
    subjects = _Subjects.of(account_key, client_ip, now)
    collection = db.collection(LOGIN_THROTTLE)
    pair_snap, account_snap, address_snap = db.get_all(
        [
            collection.document(subjects.pair),
            collection.document(subjects.account),
            collection.document(subjects.address),
        ]
    )
    pair = pair_snap.to_dict() if pair_snap.exists else None
    account = account_snap.to_dict() if account_snap.exists else None
    address = address_snap.to_dict() if address_snap.exists else None
    spraying = bool(address) and int((address or {}).get("accounts", 0)) >= settings.login_spray_accounts
    pair_allowance = 1 if spraying else settings.login_max_failures_per_pair
    waits = {
        "pair": _backoff_remaining(pair, pair_allowance, settings, now),
        "account": _backoff_remaining(account, settings.login_max_failures_per_account, settings, now),
    }
    scope, wait = max(waits.items(), key=lambda item: item[1])
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        _log.warning(
            "login throttled",
            extra={"throttle_scope": scope, "retry_after": retry_after, "spraying_address": spraying},
        )
        raise RateLimited(
            "too many failed login attempts; try again later",
            code="login_throttled",
            retry_after=retry_after,
        )
    return LoginState(
        subjects=subjects,
        pair_failures=int((pair or {}).get("failures", 0)),
        account_failures=int((account or {}).get("failures", 0)),
    )


def record_login_failure(state: LoginState) -> None:
    """Count one failed login against the pair and the account (one batched write); the
    address counts the distinct accounts it failed on (a pair's first failure)."""
    settings = get_settings()
    now = _now()
    subjects = state.subjects
    expires_at = dt.datetime.fromtimestamp(
        subjects.window_ends_at + settings.login_throttle_window_seconds, tz=dt.UTC
    )
    collection = db.collection(LOGIN_THROTTLE)

    def build(writes: db.CountingWrites) -> None:
        for doc_id, scope in ((subjects.pair, "pair"), (subjects.account, "account")):
            writes.set(
                collection.document(doc_id),
                {
                    "scope": scope,
                    "failures": db.increment(1),
                    "last_failure_at": now,
                    "expires_at": expires_at,
                },
                merge=True,
            )
        if state.pair_failures == 0:
            writes.set(
                collection.document(subjects.address),
                {"scope": "address", "accounts": db.increment(1), "expires_at": expires_at},
                merge=True,
            )

    db.commit_batch(build)


def clear_login_failures(state: LoginState) -> None:
    """A successful login forgives the pair's and the account's failures. The address keeps
    its count of accounts: one valid account must not let a sprayer reset it."""
    if not (state.pair_failures or state.account_failures):
        return
    collection = db.collection(LOGIN_THROTTLE)

    def build(writes: db.CountingWrites) -> None:
        writes.delete(collection.document(state.subjects.pair))
        writes.delete(collection.document(state.subjects.account))

    db.commit_batch(build)
