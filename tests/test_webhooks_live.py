"""Webhooks end to end (issue 17): an async run's result reaches a local receiver through the
real emulator pushes (run-results → dispatcher → webhook-deliveries → dispatcher → receiver),
verified with the `standardwebhooks` library and the `openai` SDK's verifier."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
import requests
from openai import OpenAI
from standardwebhooks.webhooks import Webhook

from tests.conftest import PROJECT, LiveStack, TestUser
from tests.test_worker_live import Api
from tests.webhook_receiver import webhook_receiver


@pytest.fixture
def api(live_stack: LiveStack, user: TestUser) -> Api:
    return Api(live_stack, user)


def create_webhook(api: Api, url: str, events: list[str]) -> dict[str, Any]:
    response = api.post("/webhooks", {"url": url, "events": events})
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(api: Api, webhook_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def wait_delivery(api: Api, webhook_id: str, status: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [d for d in deliveries(api, webhook_id) if d["status"] == status]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no {status} delivery: {deliveries(api, webhook_id)}")


def test_an_async_run_is_pushed_to_the_receiver_signed(api: Api) -> None:
    with webhook_receiver() as receiver:
        created = create_webhook(api, receiver.url, ["run.completed", "run.failed"])
        agent_id = api.agent()
        queued = api.queue(agent_id, "say hello")
        (got,) = receiver.wait_for(1, timeout=120)
        payload = Webhook(created["secret"]).verify(got.body, got.headers)
        assert payload["type"] == "run.completed" and payload["data"]["run"]["id"] == queued["id"]
        assert payload["data"]["run"]["status"] == "succeeded"
        OpenAI(api_key="unused").webhooks.verify_signature(got.body, got.headers, secret=created["secret"])
        logged = wait_delivery(api, created["webhook"]["id"], "succeeded")
        assert logged["id"] == got.headers["webhook-id"] and logged["attempts"] == 1


def test_duplicate_results_are_one_event(api: Api, live_stack: LiveStack, user: TestUser) -> None:
    from google.cloud import pubsub_v1

    with webhook_receiver() as receiver:
        created = create_webhook(api, receiver.url, ["run.failed"])
        run = {
            "id": "dup-run",
            "owner_id": user.id,
            "status": "failed",
            "finished_at": "2026-11-29T10:00:00Z",
        }
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, live_stack.topology.run_results)
        for _ in range(3):
            publisher.publish(topic, json.dumps(run).encode(), run_id=run["id"]).result(timeout=10)
        receiver.wait_for(1, timeout=60)
        time.sleep(3)  # room for any duplicate to arrive
        assert {r.headers["webhook-id"] for r in receiver.received} == {
            receiver.received[0].headers["webhook-id"]
        }
        assert len(deliveries(api, created["webhook"]["id"])) == 1
        for got in receiver.received:
            Webhook(created["secret"]).verify(got.body, got.headers)


def test_a_failing_receiver_is_retried_with_growing_delays_then_succeeds(
    api: Api,
    live_stack: LiveStack,
    user: TestUser,
) -> None:
    from google.cloud import pubsub_v1

    with webhook_receiver() as receiver:
        receiver.script = [500, 502, 503]
        created = create_webhook(api, receiver.url, ["run.cancelled"])
        run = {"id": "retry-run", "owner_id": user.id, "status": "cancelled"}
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, live_stack.topology.run_results)
        publisher.publish(topic, json.dumps(run).encode(), run_id=run["id"]).result(timeout=10)
        received = receiver.wait_for(4, timeout=120)
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
        assert gaps[-1] > gaps[0], gaps  # Pub/Sub's exponential backoff
        assert len({r.headers["webhook-id"] for r in received}) == 1
        for got in received:
            Webhook(created["secret"]).verify(got.body, got.headers)
        done = wait_delivery(api, created["webhook"]["id"], "succeeded")
        assert done["attempts"] == 4 and done["last_response_code"] == 200


def test_the_gateway_routes_webhooks(live_stack: LiveStack, user: TestUser) -> None:
    response = requests.get(f"{live_stack.base_url}/webhooks", headers=user.headers, timeout=30)
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}


def test_a_tick_starts_a_due_schedule_whose_run_is_delivered(
    api: Api, live_stack: LiveStack, user: TestUser
) -> None:
    """make dev's ticker / Cloud Scheduler → schedule-ticks → dispatcher → worker → webhook."""
    from datetime import UTC, datetime, timedelta

    from google.cloud import pubsub_v1

    from shared import db

    with webhook_receiver() as receiver:
        created = create_webhook(api, receiver.url, ["run.completed"])
        agent_id = api.agent()
        response = api.post("/schedules", {"agent_id": agent_id, "cron": "@hourly", "input": "tick tock"})
        assert response.status_code == 201, response.text
        schedule = response.json()
        due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        db.update(db.collection("schedules").document(schedule["id"]), {"next_run_at": due})
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, live_stack.topology.schedule_ticks)
        for _ in range(2):  # a duplicate tick starts nothing more
            publisher.publish(topic, b"{}", kind="schedule_tick").result(timeout=10)
        (got,) = receiver.wait_for(1, timeout=120)
        payload = Webhook(created["secret"]).verify(got.body, got.headers)
        assert payload["data"]["run"]["schedule_id"] == schedule["id"]
        assert payload["data"]["run"]["status"] == "succeeded"
        runs = api.get(f"/schedules/{schedule['id']}/runs").json()["items"]
        assert [r["id"] for r in runs] == [payload["data"]["run"]["id"]]
