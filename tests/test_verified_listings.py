"""Verified quality on marketplace listings (issue 20): the service evaluates every published
version with the listing's dataset; the figures are the service's, never the publisher's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker
from tests.test_evals import drive
from tests.test_runs import create_agent, definition
from tools import localstack


@pytest.fixture
def queue(pubsub_topology: localstack.Topology) -> Queue:
    return Queue(pubsub_topology)


@pytest.fixture
def worker(pubsub_topology: localstack.Topology) -> Worker:
    return Worker(pubsub_topology.run_requests)


def publish(marketplace_api: ApiClient, user: TestUser, body: dict[str, Any]) -> Any:
    return marketplace_api.post("/marketplace/listings", token=user.token, json=body)


def test_listing_shows_the_services_eval_of_each_version(
    agents_api: ApiClient,
    runs_api: ApiClient,
    marketplace_api: ApiClient,
    user: TestUser,
    other_user: TestUser,
    queue: Queue,
    worker: Worker,
    pubsub_topology: localstack.Topology,
) -> None:
    agent_id = create_agent(agents_api, user, name="greeter")
    cases = [
        {"name": "hello", "input": "say Hello", "expected_output": "Hello"},
        {"name": "bye", "input": "say Bye", "expected_output": "Hello"},
    ]
    dataset = runs_api.post(
        "/eval-datasets",
        token=user.token,
        json={"name": "greetings", "cases": cases, "evaluators": [{"type": "equals_expected"}]},
    ).get_json()
    base = {"agent_id": agent_id, "category": "coding", "tags": ["greet"]}
    # The figures cannot come from the publisher, and another user's dataset is invisible.
    forged = publish(marketplace_api, user, {**base, "verified": {"pass_rate": 1.0}})
    assert forged.status_code == 422
    forged = publish(marketplace_api, user, {**base, "verified_pass_rate": 1.0})
    assert forged.status_code == 422
    theirs = create_agent(agents_api, other_user)
    stolen = publish(
        marketplace_api,
        other_user,
        {"agent_id": theirs, "category": "coding", "eval_dataset_id": dataset["id"]},
    )
    assert stolen.status_code == 404
    assert runs_api.get(f"/eval-datasets/{dataset['id']}").status_code == 404

    created = publish(marketplace_api, user, {**base, "eval_dataset_id": dataset["id"]})
    assert created.status_code == 201, created.get_data(as_text=True)
    listing = created.get_json()
    assert listing["eval_dataset_id"] == dataset["id"] and listing["verified"] is None
    # The dataset is public with the listing (anyone can read and export it) but stays the owner's.
    assert runs_api.get(f"/eval-datasets/{dataset['id']}").get_json()["public"] is True
    assert runs_api.get(f"/eval-datasets/{dataset['id']}/export").status_code == 200
    assert (
        runs_api.patch(
            f"/eval-datasets/{dataset['id']}", token=other_user.token, json={"name": "x"}
        ).status_code
        == 404
    )
    assert runs_api.delete(f"/eval-datasets/{dataset['id']}", token=user.token).status_code == 409
    drive(queue, worker, pubsub_topology, 2)
    shown = marketplace_api.get(f"/marketplace/listings/{listing['id']}").get_json()
    verified = shown["verified"]
    assert verified is not None, shown
    assert verified["pass_rate"] == 0.5 and verified["cases"] == 2 and verified["version"] == 1
    assert verified["cost_per_run_usd"] > 0 and verified["p50_latency_ms"] is not None
    # Anyone can read the verification eval behind the figure.
    assert runs_api.get(f"/evals/{verified['eval_id']}").get_json()["summary"]["pass_rate"] == 0.5

    # Version 2 fixes the case: republishing evaluates it; the history shows both.
    fixed = definition("greeter", system_prompt="v2")
    assert agents_api.put(f"/agents/{agent_id}", token=user.token, json=fixed).status_code == 200
    patched = runs_api.patch(
        f"/eval-datasets/{dataset['id']}",
        token=user.token,
        json={"cases": [cases[0], {"name": "bye", "input": "say Hello", "expected_output": "Hello"}]},
    )
    assert patched.status_code == 200
    again = publish(marketplace_api, user, base)  # no dataset given: the listing keeps its own
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["verified"]["version"] == 1  # until v2's eval completes
    drive(queue, worker, pubsub_topology, 2)
    shown = marketplace_api.get(f"/marketplace/listings/{listing['id']}").get_json()
    assert shown["verified"]["version"] == 2 and shown["verified"]["pass_rate"] == 1.0
    history = marketplace_api.get(f"/marketplace/listings/{listing['id']}/versions").get_json()
    assert [(v["version"], v["verified"]["pass_rate"]) for v in history] == [(2, 1.0), (1, 0.5)]

    # Search sorts and filters by it.
    other_agent = create_agent(agents_api, user, name="unverified")
    assert publish(marketplace_api, user, {"agent_id": other_agent, "category": "coding"}).status_code == 201
    ranked = marketplace_api.get("/marketplace/listings?sort=verified").get_json()["items"]
    assert [item["name"] for item in ranked] == ["greeter", "unverified"]
    good = marketplace_api.get("/marketplace/listings?sort=verified&min_pass_rate=0.9").get_json()["items"]
    assert [item["id"] for item in good] == [listing["id"]]
    assert marketplace_api.get("/marketplace/listings?min_pass_rate=2").status_code == 422
