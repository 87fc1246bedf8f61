"""Async runs, cancellation, run events and the worker's delivery rules, in-process (issue 6).

The runs function and the worker run as functions-framework test apps against the real
emulators. Run messages are pulled from a subscription on this test's run-requests topic and
pushed to the worker exactly as the Pub/Sub emulator pushes them (``{"message": ...}`` to
``/projects/P/topics/T``), so each test controls deliveries one by one. The end-to-end tests
through the emulator's own push are in ``test_worker_live.py``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import PROJECT, ApiClient, TestUser
from tests.test_runs import create_agent, error_code, read_all, run
from tools import localstack

# -- helpers ---------------------------------------------------------------------------------


class Queue:
    """Pull access to this test's run-requests, results and dead-letter topics."""

    def __init__(self, topology: localstack.Topology) -> None:
        from google.cloud import pubsub_v1

        self.topology = topology
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.requests_sub = self.subscriber.subscription_path(PROJECT, f"{topology.run_requests}-pull")
        self.subscriber.create_subscription(
            request={
                "name": self.requests_sub,
                "topic": self.publisher.topic_path(PROJECT, topology.run_requests),
            }
        )

    def pull(self, subscription: str, expected: int = 1, attempts: int = 20) -> list[Any]:
        """Pull (and ack) at least ``expected`` messages (fewer only if none keep arriving)."""
        got: list[Any] = []
        for _ in range(attempts):
            response = self.subscriber.pull(
                request={"subscription": subscription, "max_messages": 100}, timeout=10
            )
            if response.received_messages:
                self.subscriber.acknowledge(
                    request={
                        "subscription": subscription,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
                got.extend(m.message for m in response.received_messages)
            if len(got) >= expected:
                break
        return got

    def run_messages(self, expected: int = 1) -> list[Any]:
        return self.pull(self.requests_sub, expected)

    def results(self, expected: int = 1) -> list[Any]:
        path = self.subscriber.subscription_path(PROJECT, self.topology.results_subscription)
        return self.pull(path, expected)

    def publish(self, data: dict[str, Any], **attributes: str) -> str:
        topic = self.publisher.topic_path(PROJECT, self.topology.run_requests)
        return str(self.publisher.publish(topic, json.dumps(data).encode(), **attributes).result(timeout=10))


def push_body(
    data: bytes, *, message_id: str | None = None, publish_time: datetime | None = None, **attributes: str
) -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": message_id or uuid.uuid4().hex,
            "publishTime": (publish_time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/{PROJECT}/subscriptions/test",
    }


class Worker:
    """The worker function as a test app, fed pushes like the emulator sends them."""

    def __init__(self, topic: str) -> None:
        import functions_framework

        from tools.functions import spec

        function = spec("worker")
        app = functions_framework.create_app(
            target=function.entry_point, source=str(function.source), signature_type=function.signature
        )
        self.client = app.test_client()
        self.path = f"/projects/{PROJECT}/topics/{topic}"

    def push(self, body: dict[str, Any], topic_path: str | None = None) -> int:
        return int(self.client.post(topic_path or self.path, json=body).status_code)

    def deliver(self, message: Any) -> int:
        """Push a pulled Pub/Sub message (same id, data, attributes and publish time)."""
        publish_time = datetime.fromtimestamp(message.publish_time.timestamp(), UTC)
        return self.push(
            push_body(
                message.data,
                message_id=message.message_id,
                publish_time=publish_time,
                **dict(message.attributes),
            )
        )


@pytest.fixture
def queue(pubsub_topology: localstack.Topology) -> Queue:
    return Queue(pubsub_topology)


@pytest.fixture
def worker(pubsub_topology: localstack.Topology) -> Worker:
    return Worker(pubsub_topology.run_requests)


def get_run(runs_api: ApiClient, user: TestUser, run_id: str) -> dict[str, Any]:
    response = runs_api.get(f"/runs/{run_id}", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def events_of(runs_api: ApiClient, user: TestUser, run_id: str) -> list[dict[str, Any]]:
    response = runs_api.get(f"/runs/{run_id}/events?limit=1000", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def queue_run(
    runs_api: ApiClient, user: TestUser, agent_id: str, prompt: str, **extra: Any
) -> dict[str, Any]:
    response = run(runs_api, user, agent_id, prompt, mode="async", **extra)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


# -- POST /runs mode=async -------------------------------------------------------------------


def test_async_run_is_queued_and_its_message_published(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    response = run(runs_api, user, agent_id, "later please", mode="async")
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "queued" and body["mode"] == "async" and body["attempts"] == 0
    assert response.headers["Location"] == f"/runs/{body['id']}"
    messages = queue.run_messages()
    assert [json.loads(m.data) for m in messages] == [{"run_id": body["id"]}]
    assert messages[0].attributes["run_id"] == body["id"]
    assert get_run(runs_api, user, body["id"])["status"] == "queued"


def test_async_idempotency_key_returns_the_same_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    first = queue_run(runs_api, user, agent_id, "once", idempotency_key="k-1")
    second = queue_run(runs_api, user, agent_id, "once", idempotency_key="k-1")
    assert second["id"] == first["id"]
    other = run(runs_api, user, agent_id, "something else", mode="async", idempotency_key="k-1")
    assert error_code(other, 409) == "idempotency_key_reused"
    assert len(runs_api.get("/runs", token=user.token).get_json()["items"]) == 1
    assert len(queue.run_messages()) == 1


def test_async_run_on_a_session_carries_the_session_checks(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    session = runs_api.post("/sessions", token=user.token, json={"agent_id": agent_id}).get_json()
    queued = queue_run(runs_api, user, agent_id, "in a session", session_id=session["id"])
    assert queued["session_id"] == session["id"]
    # Someone else's session is not found; a session of another agent is invalid.
    other_agent = create_agent(agents_api, other_user)
    foreign = run(runs_api, other_user, other_agent, "x", mode="async", session_id=session["id"])
    assert error_code(foreign, 404) == "not_found"
    second_agent = create_agent(agents_api, user, name="second")
    mismatch = run(runs_api, user, second_agent, "x", mode="async", session_id=session["id"])
    assert error_code(mismatch, 422) == "validation_error"
    assert len(runs_api.get("/runs", token=user.token).get_json()["items"]) == 1


def test_publish_failure_answers_503_and_leaves_nothing_queued(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    agent_id = create_agent(agents_api, user)
    env(RUN_REQUESTS_TOPIC=f"missing-{uuid.uuid4().hex[:8]}", RUN_PUBLISH_TIMEOUT_SECONDS="5")
    response = run(runs_api, user, agent_id, "never queued", mode="async", idempotency_key="k-503")
    assert error_code(response, 503) == "unavailable"
    assert "Retry-After" in response.headers
    assert runs_api.get("/runs", token=user.token).get_json()["items"] == []


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_a_queued_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "cancel me")
    assert (
        error_code(runs_api.post(f"/runs/{queued['id']}/cancel", token=other_user.token), 404) == "not_found"
    )
    response = runs_api.post(f"/runs/{queued['id']}/cancel", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled" and cancelled["error"]["code"] == "cancelled"
    assert cancelled["finished_at"] is not None
    assert get_run(runs_api, user, queued["id"])["status"] == "cancelled"
    assert error_code(runs_api.post(f"/runs/{queued['id']}/cancel", token=user.token), 409) == "run_finished"
    events = events_of(runs_api, user, queued["id"])
    assert [e["type"] for e in events] == ["run.failed"]
    assert events[0]["data"]["run"]["status"] == "cancelled"
    results = queue.results()
    assert [(m.attributes["run_id"], m.attributes["status"]) for m in results] == [
        (queued["id"], "cancelled")
    ]


def test_worker_skips_a_cancelled_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "cancel me")
    runs_api.post(f"/runs/{queued['id']}/cancel", token=user.token)
    assert worker.deliver(queue.run_messages()[0]) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "cancelled" and final["attempts"] == 0 and final["usage"]["requests"] == 0


# -- the worker ------------------------------------------------------------------------------


def test_worker_executes_once_however_often_the_message_arrives(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "say Hello from the worker")
    message = queue.run_messages()[0]
    for _ in range(5):
        assert worker.deliver(message) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "succeeded", final
    assert final["output"] == "Hello from the worker"
    assert final["attempts"] == 1
    assert final["usage"]["requests"] == 1 and final["cost_usd"] > 0
    types = [e["type"] for e in events_of(runs_api, user, queued["id"])]
    assert types.count("run.started") == 1 and types[-1] == "run.completed"
    results = queue.results()
    assert len(results) == 1 and json.loads(results[0].data)["status"] == "succeeded"
    assert results[0].attributes["owner_id"] == user.id


def test_stale_messages_fail_the_run_and_are_acked(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "too late")
    queue.run_messages()
    old = datetime.now(UTC) - timedelta(days=2)
    assert worker.push(push_body(json.dumps({"run_id": queued["id"]}).encode(), publish_time=old)) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "stale_message"
    assert final["usage"]["requests"] == 0


def test_transient_failures_are_retried_then_fail_with_max_attempts(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    env: Callable[..., None],
) -> None:
    env(RUN_MAX_DELIVERY_ATTEMPTS="3")
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "fail 503")
    message = queue.run_messages()[0]
    assert worker.deliver(message) == 500  # refused: Pub/Sub redelivers
    between = get_run(runs_api, user, queued["id"])
    assert between["status"] == "queued" and between["attempts"] == 1
    assert worker.deliver(message) == 500
    assert get_run(runs_api, user, queued["id"])["attempts"] == 2
    # The final attempt ends the run and dead-letters the message itself, then acks.
    assert worker.deliver(message) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "failed" and final["attempts"] == 3
    assert final["error"]["code"] == "max_attempts_exceeded"
    assert "model_unavailable" in final["error"]["message"]
    types = [e["type"] for e in events_of(runs_api, user, queued["id"])]
    assert types.count("run.attempt_failed") == 3 and types[-1] == "run.failed"
    dead_letter = queue.pull(
        queue.subscriber.subscription_path(PROJECT, queue.topology.dead_letter_subscription)
    )
    assert len(dead_letter) == 1 and json.loads(dead_letter[0].data) == {"run_id": queued["id"]}
    assert dead_letter[0].attributes["dead_letter_reason"] == "max_attempts_exceeded"
    assert dead_letter[0].attributes["delivery_attempts"] == "3"
    assert dead_letter[0].attributes["last_error"] == "model_unavailable"
    # A late redelivery is acknowledged and changes nothing.
    assert worker.deliver(message) == 200
    assert get_run(runs_api, user, queued["id"])["attempts"] == 3


def test_permanent_failures_are_acked(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "fail 400")
    assert worker.deliver(queue.run_messages()[0]) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "model_request_rejected"
    assert final["attempts"] == 1


def test_undecodable_and_unknown_messages_are_acked(worker: Worker) -> None:
    assert worker.push(push_body(b"not json")) == 200
    assert worker.push(push_body(json.dumps({"run_id": "no-such-run"}).encode())) == 200
    assert worker.push(push_body(b"[1, 2]")) == 200


def test_dead_lettered_message_fails_its_run(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    pubsub_topology: localstack.Topology,
) -> None:
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "never delivered")
    body = push_body(json.dumps({"run_id": queued["id"]}).encode())
    assert worker.push(body, f"/projects/{PROJECT}/topics/{pubsub_topology.dead_letter}") == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "max_attempts_exceeded"


# -- trusted publishers ----------------------------------------------------------------------


def test_trusted_request_creates_its_run_once(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    payload = {"agent_id": agent_id, "input": "say from a pipeline", "owner_id": user.id}
    queue.publish(payload)
    message = queue.run_messages()[0]
    assert worker.deliver(message) == 200
    assert worker.deliver(message) == 200
    runs = runs_api.get("/runs", token=user.token).get_json()["items"]
    assert len(runs) == 1
    assert runs[0]["status"] == "succeeded" and runs[0]["output"] == "from a pipeline"
    assert runs[0]["mode"] == "async" and runs[0]["attempts"] == 1


def test_trusted_requests_with_an_idempotency_key_share_one_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    payload = {"agent_id": agent_id, "input": "say once", "owner_id": user.id, "idempotency_key": "pipe-1"}
    queue.publish(payload)
    queue.publish(payload)
    messages = queue.run_messages(2)
    assert len(messages) == 2 and messages[0].message_id != messages[1].message_id
    for message in messages:
        assert worker.deliver(message) == 200
    runs = runs_api.get("/runs", token=user.token).get_json()["items"]
    assert [r["status"] for r in runs] == ["succeeded"]


def test_invalid_trusted_requests_are_recorded_as_failed_runs(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    queue.publish({"agent_id": "no-such-agent", "input": "x", "owner_id": user.id})
    queue.publish({"agent_id": agent_id, "input": "", "owner_id": user.id})
    queue.publish({"agent_id": agent_id, "input": "x", "owner_id": "nobody"})
    for message in queue.run_messages(3):
        assert worker.deliver(message) == 200
    runs = runs_api.get("/runs", token=user.token).get_json()["items"]
    codes = sorted(r["error"]["code"] for r in runs)
    assert codes == ["invalid_input", "not_found"]
    assert all(r["status"] == "failed" for r in runs)


# -- events ----------------------------------------------------------------------------------


def test_events_json_pages_and_sse_resume(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    finished = run(runs_api, user, agent_id, "hello events").get_json()
    everything = events_of(runs_api, user, finished["id"])
    types = [e["type"] for e in everything]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert all(e["created_at"] for e in everything)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids)
    # Pages of 2 cover the same events.
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = f"/runs/{finished['id']}/events?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = runs_api.get(url, token=user.token).get_json()
        paged.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything
    # SSE: a finished run replays and ends; Last-Event-ID resumes after that event.
    stream = runs_api.get(
        f"/runs/{finished['id']}/events", token=user.token, headers={"Accept": "text/event-stream"}
    )
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    assert [e.event for e in read_all(stream)] == types
    resumed = runs_api.get(
        f"/runs/{finished['id']}/events",
        token=user.token,
        headers={"Accept": "text/event-stream", "Last-Event-ID": str(ids[0])},
    )
    assert [int(e.id) for e in read_all(resumed) if e.id] == ids[1:]
    assert runs_api.get(f"/runs/{finished['id']}/events", token=other_user.token).status_code == 404
    bad = runs_api.get(
        f"/runs/{finished['id']}/events",
        token=user.token,
        headers={"Accept": "text/event-stream", "Last-Event-ID": "abc"},
    )
    assert bad.status_code == 400


def test_sync_runs_publish_their_result(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    done = run(runs_api, user, agent_id, "hello").get_json()
    failed = run(runs_api, user, agent_id, "fail 503").get_json()
    results = {m.attributes["run_id"]: m for m in queue.results(2)}
    assert results[done["id"]].attributes["status"] == "succeeded"
    assert json.loads(results[done["id"]].data)["output"] == done["output"]
    assert results[failed["id"]].attributes["status"] == "failed"


def test_a_run_whose_worker_died_is_taken_over_after_its_lease(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    import time

    from shared import aio
    from shared.runs.claim import claim_run
    from shared.runs.events import RunEventWriter

    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "say taken over")
    message = queue.run_messages()[0]
    # A worker claimed it with a 1 s lease, stored its first event and died.
    dead = claim_run(queued["id"], lease_seconds=1, max_attempts=5)
    assert dead.kind == "claimed"

    async def first_event() -> None:
        writer = RunEventWriter(queued["id"])
        writer.add("run.started", {"run": {}})
        await writer.close()

    aio.run(first_event())
    time.sleep(1.2)
    assert worker.deliver(message) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "succeeded" and final["attempts"] == 2 and final["output"] == "taken over"
    types = [e["type"] for e in events_of(runs_api, user, queued["id"])]
    assert types.count("run.started") == 2 and types[-1] == "run.completed"
