"""Faults (issue 10): Firestore stopped mid-request (503 + Retry-After, recovery without a
restart, nothing lost), Pub/Sub unavailable when enqueuing (no run left queued forever).

Covered elsewhere and referenced in docs/security.md: model errors and timeouts
(tests/test_runs.py::test_provider_error_fails_the_run_with_a_code, ::test_timeout_limit,
tests/test_runs_vertex.py), worker killed mid-run and duplicate deliveries
(tests/test_async_runs.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_auth import assert_error
from tests.test_runs import definition
from tools import localstack


def test_firestore_outage_is_503_with_retry_after_and_recovers_without_restart(
    apps: dict[str, ApiClient],
    make_user: Callable[..., TestUser],
    env: Callable[..., None],
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    from shared import db

    # Each call retries until its deadline: a shorter one keeps the same behaviour in less time.
    monkeypatch.setattr(db, "RPC_TIMEOUT_SECONDS", 2.0)
    port = localstack.free_port()
    emulator = localstack.start_firestore(port, tmp_path)
    try:
        env(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{port}")
        user = make_user()
        agents = apps["agents"]
        created = agents.post("/agents", token=user.token, json=definition("survivor"))
        assert created.status_code == 201
        agent_id = created.get_json()["id"]

        emulator.stop()
        for response in (
            agents.get(f"/agents/{agent_id}", token=user.token),
            agents.post("/agents", token=user.token, json=definition("during-outage")),
            apps["runs"].post("/runs", token=user.token, json={"agent_id": agent_id, "input": "hi"}),
            apps["auth"].get("/auth/me", token=user.token),
            apps["marketplace"].get("/marketplace/listings"),
        ):
            assert_error(response, 503, "unavailable")
            assert int(response.headers["Retry-After"]) >= 1

        # Same processes, same cached clients: the service recovers when Firestore is back.
        # (A fresh emulator has no data, so recovery is shown by writes and reads succeeding.)
        emulator = localstack.start_firestore(port, tmp_path)
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline and status != 200:
            status = apps["agents"].get("/agents/health").status_code
            time.sleep(0.2)
        assert status == 200
        user = make_user()
        again = agents.post("/agents", token=user.token, json=definition("after"))
        assert again.status_code == 201
        assert agents.get(f"/agents/{again.get_json()['id']}", token=user.token).status_code == 200
    finally:
        emulator.stop()


def test_pubsub_unavailable_leaves_no_run_queued(
    apps: dict[str, ApiClient], user: TestUser, env: Callable[..., None], pubsub_topology: object
) -> None:
    from shared import db

    agent = apps["agents"].post("/agents", token=user.token, json=definition("queued"))
    agent_id = agent.get_json()["id"]
    env(PUBSUB_EMULATOR_HOST=f"127.0.0.1:{localstack.free_port()}")
    response = apps["runs"].post(
        "/runs", token=user.token, json={"agent_id": agent_id, "input": "hi", "mode": "async"}
    )
    assert response.status_code < 500 or response.status_code == 503, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert set(response.get_json()) == {"error"}
    runs = [s.to_dict() or {} for s in db.query(db.collection("runs"))]
    if response.status_code == 202:
        run_id = response.get_json()["id"]
        stored = next(r for r in runs if r.get("id", run_id) == run_id)
        assert stored["status"] != "queued" or stored.get("error"), stored
    else:
        # Not accepted: no record may claim to be queued (nothing would ever run it).
        assert all(r.get("status") != "queued" for r in runs), runs


def test_a_transaction_that_loses_to_contention_is_503_and_writes_nothing(
    agents_api: ApiClient, user: TestUser, monkeypatch: Any
) -> None:
    """The Firestore client gives up on a contended document with a bare ValueError; the
    caller gets a retryable 503 with Retry-After (seen as a 500 under load before)."""
    from google.cloud import firestore

    created = agents_api.post("/agents", token=user.token, json=definition())
    assert created.status_code == 201
    agent = created.get_json()

    def always_contended(_fn: Any) -> Any:
        def run(_transaction: Any) -> Any:
            raise ValueError("Failed to commit transaction in 5 attempts.")

        return run

    monkeypatch.setattr(firestore, "transactional", always_contended)
    response = agents_api.put(
        f"/agents/{agent['id']}", token=user.token, json=definition(description="changed")
    )
    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"
    monkeypatch.undo()
    stored = agents_api.get(f"/agents/{agent['id']}", token=user.token).get_json()
    assert stored["version"] == 1 and stored["description"] == agent["description"]


def test_a_registration_that_keeps_losing_to_contention_tries_again_then_is_503(
    auth_api: ApiClient, monkeypatch: Any
) -> None:
    """Racing registrations abort each other: with no winner yet, the request tries a few
    rounds (a 503 at once made concurrent sign-ups flaky) and only then answers a retryable 503."""
    from shared import db
    from shared.errors import Contended

    rounds: list[int] = []

    def contended(_fn: Any, **_kwargs: Any) -> Any:
        rounds.append(1)
        raise Contended("too many concurrent changes to the same data; retry", retry_after=1)

    monkeypatch.setattr(db, "run_transaction", contended)
    response = auth_api.post(
        "/auth/register",
        json={"username": "contended", "email": "contended@example.com", "password": "correct horse battery"},
    )
    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"
    assert len(rounds) == 3
