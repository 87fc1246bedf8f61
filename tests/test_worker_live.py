"""Async runs end to end: the runs and worker functions as real functions-framework processes,
the Pub/Sub emulator pushing run messages to the worker (ordering, retry policy and a
dead-letter policy of 5 attempts, as ``live_stack`` sets them up), Firestore emulator (issue 6).

Waits poll the API until a state is reached (with a generous deadline); nothing asserts on time.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT, LiveStack, TestUser
from tests.test_runs import definition, parse_frame

WAIT_SECONDS = 120.0


class Api:
    def __init__(self, stack: LiveStack, user: TestUser) -> None:
        self.base = stack.base_url
        self.headers = {"Authorization": f"Bearer {user.token}"}

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return requests.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=60, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return requests.get(f"{self.base}{path}", headers=headers, timeout=60, **kw)

    def agent(self, name: str = "helper", **overrides: Any) -> str:
        response = self.post("/agents", definition(name, **overrides))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def queue(self, agent_id: str, prompt: str, **extra: Any) -> dict[str, Any]:
        response = self.post("/runs", {"agent_id": agent_id, "input": prompt, "mode": "async", **extra})
        assert response.status_code == 202, response.text
        return response.json()

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.get(f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_run(self, run_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        current = self.run(run_id)
        while not until(current) and time.monotonic() < deadline:
            time.sleep(0.3)
            current = self.run(run_id)
        return current

    def wait_finished(self, run_id: str) -> dict[str, Any]:
        return self.wait_run(run_id, lambda r: r["status"] in ("succeeded", "failed", "cancelled"))

    def wait_events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's events once its terminal event is stored (it follows the record's update)."""
        deadline = time.monotonic() + WAIT_SECONDS
        events = self.events(run_id)
        while events[-1:] and events[-1]["type"] not in ("run.completed", "run.failed"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
            events = self.events(run_id)
        return events

    def events(self, run_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/runs/{run_id}/events", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
def api(live_stack: LiveStack, user: TestUser) -> Api:
    return Api(live_stack, user)


def pull_until(subscription: str, wanted: Callable[[Any], bool], expected: int = 1) -> list[Any]:
    """Pull (and ack) from a shared subscription until ``expected`` wanted messages arrived."""
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, subscription)
    found: list[Any] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found) < expected and time.monotonic() < deadline:
        response = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=10)
        if response.received_messages:
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
        found.extend(m.message for m in response.received_messages if wanted(m.message))
    return found


def publish(stack: LiveStack, data: dict[str, Any], **attributes: str) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(PROJECT, stack.topology.run_requests)
    publisher.publish(topic, json.dumps(data).encode(), **attributes).result(timeout=10)


@pytest.fixture
def short_lease(live_stack: LiveStack) -> Iterator[None]:
    """The worker with a 6 s lease (renewed every 2 s), restored afterwards."""
    with live_stack.override_env("worker", RUN_LEASE_SECONDS="6"):
        yield


# -- tests -----------------------------------------------------------------------------------


def test_async_run_succeeds_and_its_result_is_published(
    api: Api, live_stack: LiveStack, user: TestUser
) -> None:
    agent_id = api.agent()
    queued = api.queue(agent_id, "say Done asynchronously")
    assert queued["status"] == "queued"
    final = api.wait_finished(queued["id"])
    assert final["status"] == "succeeded", final
    assert final["output"] == "Done asynchronously" and final["attempts"] == 1
    assert final["usage"]["requests"] == 1 and final["started_at"] and final["finished_at"]
    results = pull_until(
        live_stack.topology.results_subscription, lambda m: m.attributes["run_id"] == queued["id"]
    )
    assert results, "no result on the run-results topic"
    assert results[0].attributes["status"] == "succeeded" and results[0].attributes["owner_id"] == user.id
    assert json.loads(results[0].data)["output"] == "Done asynchronously"


def test_async_runs_on_one_session_run_in_order(api: Api) -> None:
    agent_id = api.agent()
    session = api.post("/sessions", {"agent_id": agent_id}).json()
    runs = [api.queue(agent_id, f"say turn {n}", session_id=session["id"]) for n in range(3)]
    finals = [api.wait_finished(r["id"]) for r in runs]
    assert [f["status"] for f in finals] == ["succeeded"] * 3
    # One at a time, in publish order: each started after the previous one finished.
    for before, after in itertools.pairwise(finals):
        assert before["finished_at"] <= after["started_at"]
    messages = api.get(f"/sessions/{session['id']}").json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "assistant"] == ["turn 0", "turn 1", "turn 2"]


def test_the_same_message_delivered_5_times_executes_once(api: Api, live_stack: LiveStack) -> None:
    agent_id = api.agent()
    queued = api.queue(agent_id, "pause 1\nsay only once")
    for _ in range(4):
        publish(live_stack, {"run_id": queued["id"]}, run_id=queued["id"])
    final = api.wait_finished(queued["id"])
    assert final["status"] == "succeeded", final
    # Let the duplicates drain, then check nothing ran twice.
    time.sleep(3)
    again = api.run(queued["id"])
    assert again["attempts"] == 1
    assert again["usage"] == final["usage"] and again["usage"]["requests"] == 1
    assert again["cost_usd"] == final["cost_usd"]
    types = [e["type"] for e in api.wait_events(queued["id"])]
    assert types.count("run.started") == 1 and types.count("run.completed") == 1


@pytest.mark.usefixtures("short_lease")
def test_a_worker_killed_mid_run_is_retried_to_completion(api: Api, live_stack: LiveStack) -> None:
    agent_id = api.agent()
    queued = api.queue(agent_id, "pause 6\nsay survived")
    running = api.wait_run(queued["id"], lambda r: r["status"] == "running")
    assert running["status"] == "running" and running["attempts"] == 1
    deadline = time.monotonic() + WAIT_SECONDS
    while not api.events(queued["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)  # the first attempt has stored run.started and waits on the model
    worker = live_stack.processes["worker"].proc
    os.killpg(worker.pid, signal.SIGKILL)  # a crash: no graceful shutdown, the lease just lapses
    worker.wait(timeout=10)
    live_stack.restart("worker")
    final = api.wait_finished(queued["id"])
    assert final["status"] == "succeeded", final
    assert final["output"] == "survived" and final["attempts"] == 2
    events = api.wait_events(queued["id"])
    types = [e["type"] for e in events]
    assert types[-1] == "run.completed", events
    # The second attempt continued the event sequence after what the first one stored.
    assert types.count("run.started") == 2, events


def test_a_poison_message_is_dead_lettered_and_its_run_failed(api: Api, live_stack: LiveStack) -> None:
    agent_id = api.agent()
    queued = api.queue(agent_id, "fail 503")
    final = api.wait_finished(queued["id"])
    assert final["status"] == "failed", final
    assert final["error"]["code"] == "max_attempts_exceeded" and final["attempts"] == 5
    dead = pull_until(
        live_stack.topology.dead_letter_subscription,
        lambda m: json.loads(m.data or b"{}").get("run_id") == queued["id"],
    )
    assert dead, "the message never reached the dead-letter topic"
    assert dead[0].attributes["dead_letter_reason"] == "max_attempts_exceeded"
    assert dead[0].attributes["delivery_attempts"] == "5"


def test_cancel_a_running_run_stops_it_at_the_next_step(api: Api) -> None:
    agent_id = api.agent(tools=[{"name": "find", "enabled": True, "config": {}}])
    queued = api.queue(agent_id, 'pause 4\ncall find {"pattern": "*"}')
    running = api.wait_run(queued["id"], lambda r: r["status"] == "running")
    assert running["status"] == "running"
    response = api.post(f"/runs/{queued['id']}/cancel")
    assert response.status_code == 200, response.text
    final = api.wait_finished(queued["id"])
    assert final["status"] == "cancelled", final
    assert final["error"]["code"] == "cancelled"
    # Usage so far (the model request that was under way) is recorded; the tool never ran.
    assert final["usage"]["requests"] == 1 and final["usage"]["tool_calls"] == 0
    assert api.post(f"/runs/{queued['id']}/cancel").status_code == 409


def test_a_trusted_direct_publish_runs(api: Api, live_stack: LiveStack, user: TestUser) -> None:
    agent_id = api.agent()
    publish(live_stack, {"agent_id": agent_id, "input": "say from the pipeline", "owner_id": user.id})
    deadline = time.monotonic() + WAIT_SECONDS
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = api.get("/runs").json()["items"]
        if items and items[0]["status"] == "succeeded":
            break
        time.sleep(0.3)
    assert len(items) == 1 and items[0]["status"] == "succeeded", items
    assert items[0]["output"] == "from the pipeline" and items[0]["owner_id"] == user.id


def test_events_stream_live_and_resume(api: Api) -> None:
    agent_id = api.agent()
    queued = api.queue(agent_id, "pause 3\nsay streamed to a watcher")
    response = api.get(f"/runs/{queued['id']}/events", headers={"Accept": "text/event-stream"}, stream=True)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    received: list[Any] = []
    status_at_start = None
    buffer = ""
    for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            if not frame.strip() or frame.startswith(":"):
                continue
            event = parse_frame(frame)
            received.append(event)
            if event.event == "run.started":
                status_at_start = api.run(queued["id"])["status"]
    types = [e.event for e in received]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert "text.delta" in types
    # The stream followed the run while it ran (the model was still pausing).
    assert status_at_start == "running"
    assert "".join(e.data["delta"] for e in received if e.event == "text.delta") == "streamed to a watcher"
    # Resuming after the first event replays the rest.
    resumed = api.get(
        f"/runs/{queued['id']}/events",
        headers={"Accept": "text/event-stream", "Last-Event-ID": received[0].id},
    )
    rest = [parse_frame(f) for f in resumed.text.split("\n\n") if f.strip() and not f.startswith(":")]
    assert [e.event for e in rest] == types[1:]
