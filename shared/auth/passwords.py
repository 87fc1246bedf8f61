"""Password hashing with Argon2id (argon2-cffi, imported on first use).

The cost parameters come from settings; a stored hash made with other parameters is
reported by :func:`needs_rehash` so the login that proves the password can upgrade it.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from shared.settings import get_settings

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# Bounds checked by the request schemas before any hashing happens (a 1 MB password is a
# 422, never a slow hash).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_dummy_lock = threading.Lock()
_dummy_hashes: dict[tuple[int, int, int], str] = {}


def _parameters() -> tuple[int, int, int]:
    settings = get_settings()
    return settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism


@functools.cache
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)


def _hasher() -> PasswordHasher:
    return _hasher_for(*_parameters())


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` with the configured parameters."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or a bad hash."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with parameters other than the configured ones."""
    from argon2.exceptions import InvalidHashError

    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def burn_verification(password: str) -> None:
    """Spend the time of one real verification (unknown user, or a user without a password),
    so a wrong username cannot be told from a wrong password by timing."""
    params = _parameters()
    with _dummy_lock:
        dummy = _dummy_hashes.get(params)
        if dummy is None:
            dummy = _hasher_for(*params).hash("dummy password that matches nothing")
            _dummy_hashes[params] = dummy
    verify_password(dummy, password)
