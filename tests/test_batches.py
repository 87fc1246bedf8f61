"""Batches: fan-out, idempotency, live counts and cost, pagination (issue 6).

In-process tests deliver the batch's run messages to the worker app one by one
(see ``test_async_runs``); the last test runs a batch of 50 through the live stack.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from tests.conftest import ApiClient, LiveStack, TestUser
from tests.test_async_runs import Queue, Worker
from tests.test_runs import create_agent, definition, error_code
from tools import localstack


@pytest.fixture
def queue(pubsub_topology: localstack.Topology) -> Queue:
    return Queue(pubsub_topology)


@pytest.fixture
def worker(pubsub_topology: localstack.Topology) -> Worker:
    return Worker(pubsub_topology.run_requests)


def create_batch(runs_api: ApiClient, user: TestUser, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = runs_api.post("/batches", token=user.token, json=body, **kw)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def test_batch_fans_out_one_queued_run_per_input(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    batch = create_batch(runs_api, user, {"agent_id": agent_id, "inputs": ["one", "two", "three"]})
    assert batch["total"] == 3 and batch["status"] == "queued" and batch["cost_usd"] == 0
    assert batch["counts"] == {
        "queued": 3,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "requires_action": 0,
    }
    expected_ids = [f"{batch['id']}-{i:04d}" for i in range(3)]
    messages = queue.run_messages(3)
    assert sorted(json.loads(m.data)["run_id"] for m in messages) == expected_ids
    # Pages in input order.
    first = runs_api.get(f"/batches/{batch['id']}/runs?limit=2", token=user.token).get_json()
    assert [r["id"] for r in first["items"]] == expected_ids[:2] and first["next_cursor"]
    second = runs_api.get(
        f"/batches/{batch['id']}/runs?limit=2&cursor={first['next_cursor']}", token=user.token
    ).get_json()
    assert [r["id"] for r in second["items"]] == expected_ids[2:] and second["next_cursor"] is None
    runs = first["items"] + second["items"]
    assert [r["input"] for r in runs] == ["one", "two", "three"]
    assert all(
        r["batch_id"] == batch["id"] and r["status"] == "queued" and r["mode"] == "async" for r in runs
    )


def test_batch_idempotency_key_returns_the_same_batch(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    body = {"agent_id": agent_id, "inputs": ["a", "b"], "idempotency_key": "batch-1"}
    first = create_batch(runs_api, user, body)
    again = create_batch(runs_api, user, body)
    assert again["id"] == first["id"]
    by_header = create_batch(
        runs_api, user, {"agent_id": agent_id, "inputs": ["a", "b"]}, headers={"Idempotency-Key": "batch-1"}
    )
    assert by_header["id"] == first["id"]
    changed = runs_api.post("/batches", token=user.token, json={**body, "inputs": ["c"]})
    assert error_code(changed, 409) == "idempotency_key_reused"
    assert len(runs_api.get("/runs", token=user.token).get_json()["items"]) == 2
    assert len(queue.run_messages(2)) == 2


def test_invalid_batches_are_rejected_and_write_nothing(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    for inputs in ([], ["ok", "  "], ["x"] * 1001, [[]]):
        response = runs_api.post("/batches", token=user.token, json={"agent_id": agent_id, "inputs": inputs})
        assert error_code(response, 422) == "validation_error"
    missing = runs_api.post("/batches", token=user.token, json={"agent_id": "nope", "inputs": ["x"]})
    assert error_code(missing, 404) == "not_found"
    assert runs_api.get("/runs", token=user.token).get_json()["items"] == []


def test_batch_counts_status_and_cost_follow_its_runs(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    other_user: TestUser,
    queue: Queue,
    worker: Worker,
) -> None:
    agent_id = create_agent(agents_api, user)
    batch = create_batch(runs_api, user, {"agent_id": agent_id, "inputs": ["say a", "fail 400", "say c"]})
    messages = sorted(queue.run_messages(3), key=lambda m: json.loads(m.data)["run_id"])
    assert worker.deliver(messages[0]) == 200
    partial = runs_api.get(f"/batches/{batch['id']}", token=user.token).get_json()
    assert partial["status"] == "running"
    assert partial["counts"] == {
        "queued": 2,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
        "requires_action": 0,
    }
    assert runs_api.post(f"/runs/{batch['id']}-0002/cancel", token=user.token).status_code == 200
    for message in messages[1:]:
        assert worker.deliver(message) == 200
    done = runs_api.get(f"/batches/{batch['id']}", token=user.token).get_json()
    assert done["status"] == "completed"
    assert done["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 1,
        "requires_action": 0,
    }
    runs = runs_api.get(f"/batches/{batch['id']}/runs", token=user.token).get_json()["items"]
    assert done["cost_usd"] > 0
    assert abs(done["cost_usd"] - sum(r["cost_usd"] or 0 for r in runs)) < 1e-9
    assert runs_api.get(f"/batches/{batch['id']}", token=other_user.token).status_code == 404
    assert runs_api.get(f"/batches/{batch['id']}/runs", token=other_user.token).status_code == 404


def test_a_batch_of_50_completes_through_pubsub(live_stack: LiveStack, user: TestUser) -> None:
    base, headers = live_stack.base_url, {"Authorization": f"Bearer {user.token}"}
    agent = requests.post(f"{base}/agents", json=definition("batcher"), headers=headers, timeout=30)
    assert agent.status_code == 201, agent.text
    inputs = [f"say item {n}" for n in range(50)]
    created = requests.post(
        f"{base}/batches",
        json={"agent_id": agent.json()["id"], "inputs": inputs},
        headers=headers,
        timeout=60,
    )
    assert created.status_code == 202, created.text
    batch_id = created.json()["id"]
    deadline = time.monotonic() + 180
    batch = created.json()
    while batch["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.5)
        batch = requests.get(f"{base}/batches/{batch_id}", headers=headers, timeout=30).json()
    assert batch["status"] == "completed", batch
    assert batch["total"] == 50
    assert batch["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 50,
        "failed": 0,
        "cancelled": 0,
        "requires_action": 0,
    }
    runs: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = requests.get(
            f"{base}/batches/{batch_id}/runs", params=params, headers=headers, timeout=30
        ).json()
        runs.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [r["output"] for r in runs] == [f"item {n}" for n in range(50)]
    assert all(r["attempts"] == 1 for r in runs)
    assert abs(batch["cost_usd"] - sum(r["cost_usd"] for r in runs)) < 1e-9


def test_batch_runs_of_an_installed_agent_count_for_its_listing(
    apps: dict[str, ApiClient],
    user: TestUser,
    other_user: TestUser,
    queue: Queue,
    worker: Worker,
    env: Any,
) -> None:
    """Each batch run carries the listing id (no agent read when it finishes) and counts in its stats."""
    from shared.runs import repository
    from tests.test_marketplace import install, publish

    env(MARKETPLACE_STATS_FOLD_SECONDS="0")
    agent_id = create_agent(apps["agents"], user)
    listing_id = publish(apps, user, agent_id)["id"]
    copy_id = install(apps, other_user, listing_id)["id"]
    batch = create_batch(apps["runs"], other_user, {"agent_id": copy_id, "inputs": ["say a", "say b"]})
    own = create_batch(apps["runs"], user, {"agent_id": agent_id, "inputs": ["say mine"]})
    runs = [repository.load_run(f"{b['id']}-{i:04d}") for b, i in ((batch, 0), (batch, 1), (own, 0))]
    assert [r.listing_id for r in runs if r is not None] == [listing_id, listing_id, ""]
    for message in queue.run_messages(3):
        assert worker.deliver(message) == 200
    stats = apps["marketplace"].get(f"/marketplace/listings/{listing_id}").get_json()["stats"]
    assert stats["runs"] == 2 and stats["success_rate"] == 1.0
