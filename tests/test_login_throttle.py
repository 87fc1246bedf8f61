"""Login throttling (issue 21 point 4): brute force and spraying are slowed down by a growing
back-off per (address, account) pair and per account, and nobody else behind the attacker's
address is locked out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.test_auth import PASSWORD, assert_error, cheap_argon2, login, registered

__all__ = ["cheap_argon2"]  # the autouse fixture applies here too

ATTACKER = "198.51.100.66"


class Clock:
    """The throttle's clock, moved by hand (back-off waits without sleeping)."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from shared.auth import throttle

    fake = Clock()
    monkeypatch.setattr(throttle, "_now", fake)
    return fake


def ok(response: Any) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)


def retry_after(response: Any) -> int:
    assert_error(response, 429, "login_throttled")
    return int(response.headers["Retry-After"])


def _throttle_docs() -> list[dict[str, Any]]:
    from shared import db

    return [snap.to_dict() for snap in db.query(db.collection("login_throttle"))]


def test_brute_force_on_one_account_backs_off_growing_but_not_others(
    auth_api: ApiClient, env: Callable[..., None], clock: Clock
) -> None:
    env(LOGIN_MAX_FAILURES_PER_PAIR="3", LOGIN_BACKOFF_BASE_SECONDS="10", LOGIN_BACKOFF_MAX_SECONDS="40")
    registered(auth_api, "victim")
    registered(auth_api, "colleague")
    for attempt in range(3):
        assert_error(login(auth_api, "victim", f"guess-{attempt}", ip=ATTACKER), 401)
    # From the attacker's address the account now waits, even with the right password ...
    assert retry_after(login(auth_api, "victim", PASSWORD, ip=ATTACKER)) == 10
    # ... and each further failure doubles the wait, up to the cap.
    waits = []
    for _ in range(4):
        clock.advance(retry_after(login(auth_api, "victim", "again", ip=ATTACKER)))
        assert_error(login(auth_api, "victim", "again", ip=ATTACKER), 401)
        waits.append(retry_after(login(auth_api, "victim", "again", ip=ATTACKER)))
    assert waits == [20, 40, 40, 40]
    # The owner, from their own address, is not locked out (the account allowance is larger);
    ok(login(auth_api, "victim", PASSWORD, ip="203.0.113.20"))
    # nor is a colleague behind the attacker's address.
    ok(login(auth_api, "colleague", PASSWORD, ip=ATTACKER))
    stored = _throttle_docs()
    assert stored and all(d["expires_at"].timestamp() > clock.now for d in stored)
    assert all(
        "victim" not in json.dumps(d, default=str) and ATTACKER not in json.dumps(d, default=str)
        for d in stored
    )


def test_password_spray_from_one_address_loses_its_allowance_but_not_fresh_accounts(
    auth_api: ApiClient, env: Callable[..., None], clock: Clock
) -> None:
    env(LOGIN_SPRAY_ACCOUNTS="5", LOGIN_MAX_FAILURES_PER_PAIR="5")
    sprayed = [registered(auth_api, f"staff_{index}")["username"] for index in range(6)]
    registered(auth_api, "innocent")
    # One common password against many accounts (a real and some unknown names).
    for name in [*sprayed, "ghost_1", "ghost_2"]:
        assert_error(login(auth_api, name, "Winter2026!", ip=ATTACKER), 401)
    # The address is spraying: a second password on an account it already tried waits,
    # although a single address would normally get five failures per account.
    assert retry_after(login(auth_api, "staff_0", "Spring2026!", ip=ATTACKER)) >= 1
    assert retry_after(login(auth_api, "ghost_1", "Spring2026!", ip=ATTACKER)) >= 1
    # A correct login for an account not attacked from there succeeds (same NAT, same minute).
    ok(login(auth_api, "innocent", PASSWORD, ip=ATTACKER))
    # The sprayed accounts' owners log in from their own addresses.
    ok(login(auth_api, "staff_1", PASSWORD, ip="203.0.113.21"))


def test_innocent_user_behind_a_busy_attacker_logs_in(
    auth_api: ApiClient, env: Callable[..., None], clock: Clock
) -> None:
    """The old per-address limit (20 failures lock every account behind the address) is gone."""
    env(LOGIN_MAX_FAILURES_PER_PAIR="5", LOGIN_MAX_FAILURES_PER_ACCOUNT="1000")
    registered(auth_api, "target")
    registered(auth_api, "bystander")
    for attempt in range(30):
        response = login(auth_api, "target", f"guess-{attempt}", ip=ATTACKER)
        if response.status_code == 429:
            clock.advance(retry_after(response))
            response = login(auth_api, "target", f"guess-{attempt}", ip=ATTACKER)
        assert_error(response, 401)
    ok(login(auth_api, "bystander", PASSWORD, ip=ATTACKER))


def test_distributed_brute_force_backs_off_the_account_everywhere(
    auth_api: ApiClient, env: Callable[..., None], clock: Clock
) -> None:
    env(LOGIN_MAX_FAILURES_PER_ACCOUNT="3", LOGIN_BACKOFF_BASE_SECONDS="30")
    registered(auth_api, "grace")
    registered(auth_api, "heidi")
    for attempt in range(3):
        assert_error(login(auth_api, "grace", f"wrong-{attempt}", ip=f"192.0.2.{attempt}"), 401)
    # Every address waits for this account, by username and by email alike ...
    assert retry_after(login(auth_api, "grace", PASSWORD, ip="192.0.2.99")) == 30
    assert retry_after(login(auth_api, "grace@example.com", PASSWORD, ip="192.0.2.98")) == 30
    # ... only for the back-off, not for the window: then the right password works and
    # forgives the failures.
    ok(login(auth_api, "heidi", PASSWORD, ip="192.0.2.99"))
    clock.advance(30)
    ok(login(auth_api, "grace", PASSWORD, ip="192.0.2.99"))
    assert_error(login(auth_api, "grace", "wrong again", ip="192.0.2.3"), 401)  # not 429: forgiven


def test_unknown_usernames_are_throttled_like_real_ones(
    auth_api: ApiClient, env: Callable[..., None], clock: Clock
) -> None:
    env(LOGIN_MAX_FAILURES_PER_ACCOUNT="2")
    for ip in ("192.0.2.10", "192.0.2.11"):
        assert_error(login(auth_api, "ghost", "whatever1", ip=ip), 401)
    assert retry_after(login(auth_api, "ghost", "whatever1", ip="192.0.2.12")) >= 1


def test_a_successful_login_forgives_the_pairs_failures(
    auth_api: ApiClient, env: Callable[..., None], clock: Clock
) -> None:
    env(LOGIN_MAX_FAILURES_PER_PAIR="3")
    registered(auth_api, "judy")
    for _ in range(2):
        assert_error(login(auth_api, "judy", "wrong password"), 401)
    ok(login(auth_api, "judy", PASSWORD))
    for _ in range(2):
        assert_error(login(auth_api, "judy", "wrong password"), 401)  # not yet 429
    ok(login(auth_api, "judy", PASSWORD))
