"""Async runs under duplicate deliveries and failures, end to end (issue 10 hardening).

The runs and worker functions run as real functions-framework processes (``live_stack``),
the Pub/Sub emulator pushes run messages to the worker. Covered elsewhere, on purpose not
repeated here: a worker killed mid-run (tests/test_worker_live.py), transient model errors
retried up to the attempt limit and permanent ones failing at once (tests/test_async_runs.py),
sync-mode model errors and timeouts (tests/test_runs.py).

Waits poll the API until a state is reached (with a generous deadline); nothing asserts on time.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT, ApiClient, LiveStack, TestUser
from tests.test_async_runs import Queue, Worker, get_run, push_body, queue_run
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
from tests.test_runs import create_agent, error_code, run
from tests.test_worker_live import Api

RUNS = 500
CLIENTS = 8
WAIT_SECONDS = 240.0


@pytest.fixture
def no_run_quota(live_stack: LiveStack) -> Iterator[None]:
    """The runs function without the per-user run quota (500 runs from one user), restored after."""
    with live_stack.override_env("runs", RUN_RATE_LIMIT_PER_MINUTE="0"):
        yield


def _all_runs(api: Api) -> dict[str, dict[str, Any]]:
    """Every run of the caller, by id (GET /runs, all pages)."""
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        response = api.get("/runs", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found.update({run["id"]: run for run in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return found


@pytest.mark.usefixtures("no_run_quota")
def test_500_async_runs_with_duplicate_deliveries_each_execute_exactly_once(
    live_stack: LiveStack, user: TestUser
) -> None:
    from google.cloud import pubsub_v1

    api = Api(live_stack, user)
    agent_id = api.agent()
    session = requests.Session()
    session.headers.update(api.headers)

    def enqueue(n: int) -> str:
        body = {"agent_id": agent_id, "input": f"say reply {n}", "mode": "async"}
        response = session.post(f"{api.base}/runs", json=body, timeout=60)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(CLIENTS) as pool:
        run_ids = list(pool.map(enqueue, range(RUNS)))
    assert len(set(run_ids)) == RUNS

    # Duplicates: extra copies of a fifth of the messages published to the topic (new message
    # ids, as a publisher retry produces), and the same message pushed twice straight to the
    # worker (one message id delivered again, as Pub/Sub redelivery does).
    chooser = random.Random(20261123)
    copied = chooser.sample(run_ids, RUNS // 5)
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(PROJECT, live_stack.topology.run_requests)
    futures = [
        publisher.publish(topic, json.dumps({"run_id": run_id}).encode(), run_id=run_id)
        for run_id in copied
        for _ in range(chooser.randint(1, 3))
    ]
    for future in futures:
        future.result(timeout=30)
    redelivered = chooser.sample(run_ids, 20)
    worker_url = (
        f"{live_stack.function_urls['worker']}/projects/{PROJECT}/topics/{live_stack.topology.run_requests}"
    )
    for run_id in redelivered:
        body = push_body(
            json.dumps({"run_id": run_id}).encode(), message_id=f"redelivered-{run_id}", run_id=run_id
        )
        for _ in range(2):
            assert requests.post(worker_url, json=body, timeout=120).status_code == 200

    # None lost: every run reaches succeeded.
    deadline = time.monotonic() + WAIT_SECONDS
    runs = _all_runs(api)
    while time.monotonic() < deadline and not all(r["status"] == "succeeded" for r in runs.values()):
        time.sleep(2)
        runs = _all_runs(api)
    assert set(runs) == set(run_ids), "runs were created by duplicate deliveries or are missing"
    statuses = [r["status"] for r in runs.values()]
    assert statuses.count("succeeded") == RUNS, {s: statuses.count(s) for s in set(statuses)}
    # Exactly once: one attempt, one model request, each run's own answer.
    for n, run_id in enumerate(run_ids):
        run = runs[run_id]
        assert run["attempts"] == 1, run
        assert run["usage"]["requests"] == 1, run
        assert run["output"] == f"reply {n}", run
    # The duplicated runs stored one run.started and one terminal event each.
    for run_id in {*copied, *redelivered}:
        types = [e["type"] for e in api.wait_events(run_id)]
        assert types.count("run.started") == 1 and types.count("run.completed") == 1, (run_id, types)
        assert "run.failed" not in types and "run.attempt_failed" not in types


def test_an_async_run_over_its_time_limit_fails_with_a_code_without_retry(
    live_stack: LiveStack, user: TestUser
) -> None:
    api = Api(live_stack, user)
    agent_id = api.agent(limits={"timeout_seconds": 0.5})
    queued = api.queue(agent_id, "slow one\npause 5")
    final = api.wait_finished(queued["id"])
    assert final["status"] == "failed", final
    assert final["error"]["code"] == "run_timeout"
    # A time limit is the agent's own limit, not a transient fault: no second attempt.
    assert final["attempts"] == 1
    types = [e["type"] for e in api.wait_events(queued["id"])]
    assert types.count("run.started") == 1 and types[-1] == "run.failed", types
    assert "run.attempt_failed" not in types


# -- a request that dies between storing the run and publishing it ---------------------------


class _Crash(Exception):
    """Stands for the instance dying mid-request: not a publish failure the code handles."""


@pytest.fixture
def dies_before_publishing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next async POST /runs stores its run, then dies instead of publishing it."""
    from shared.runs import async_runs

    real = async_runs.publish_run
    calls = {"n": 0}

    def publish_run(message: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise _Crash("instance killed")
        real(message)

    monkeypatch.setattr(async_runs, "publish_run", publish_run)


def _published(queue: Queue) -> list[Any]:
    """Run messages published since the last pull (a short pull: none may be the answer)."""
    from google.api_core import exceptions

    try:
        response = queue.subscriber.pull(
            request={"subscription": queue.requests_sub, "max_messages": 100}, timeout=3
        )
    except exceptions.DeadlineExceeded:
        return []
    if response.received_messages:
        queue.subscriber.acknowledge(
            request={
                "subscription": queue.requests_sub,
                "ack_ids": [m.ack_id for m in response.received_messages],
            }
        )
    return [m.message for m in response.received_messages]


def _stored_run(runs_api: ApiClient, user: TestUser) -> dict[str, Any]:
    items = runs_api.get("/runs", token=user.token).get_json()["items"]
    assert len(items) == 1, items
    return items[0]


def strand_a_run(agents_api: ApiClient, runs_api: ApiClient, user: TestUser, prompt: str) -> dict[str, Any]:
    """An async POST /runs that dies before publishing (``dies_before_publishing``): its stored run."""
    agent_id = create_agent(agents_api, user)
    assert run(runs_api, user, agent_id, prompt, mode="async").status_code == 500
    stranded = _stored_run(runs_api, user)
    assert stranded["status"] == "queued"
    return stranded


@pytest.mark.usefixtures("dies_before_publishing")
def test_an_idempotent_retry_republishes_a_run_whose_request_died_before_publishing(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = create_agent(agents_api, user)
    crashed = run(runs_api, user, agent_id, "say recovered", mode="async", idempotency_key="k-crash")
    assert crashed.status_code == 500
    stranded = _stored_run(runs_api, user)
    assert stranded["status"] == "queued"
    assert _published(queue) == []  # nothing was published
    retry = run(runs_api, user, agent_id, "say recovered", mode="async", idempotency_key="k-crash")
    assert retry.status_code == 202, retry.get_data(as_text=True)
    assert retry.get_json()["id"] == stranded["id"]
    messages = queue.run_messages()
    assert [json.loads(m.data) for m in messages] == [{"run_id": stranded["id"]}]
    # A second retry finds it published: no further message.
    again = run(runs_api, user, agent_id, "say recovered", mode="async", idempotency_key="k-crash")
    assert again.status_code == 202 and again.get_json()["id"] == stranded["id"]
    assert _published(queue) == []
    assert worker.deliver(messages[0]) == 200
    final = get_run(runs_api, user, stranded["id"])
    assert final["status"] == "succeeded" and final["output"] == "recovered" and final["attempts"] == 1


@pytest.mark.usefixtures("dies_before_publishing")
def test_reading_a_stranded_run_republishes_it_once_it_is_old_enough(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    env: Callable[..., None],
) -> None:
    stranded = strand_a_run(agents_api, runs_api, user, "say found again")
    # Younger than RUN_REPUBLISH_AFTER_SECONDS (default 30 s): its request may still be publishing.
    assert get_run(runs_api, user, stranded["id"])["status"] == "queued"
    assert _published(queue) == []
    env(RUN_REPUBLISH_AFTER_SECONDS="0")
    assert get_run(runs_api, user, stranded["id"])["status"] == "queued"
    messages = queue.run_messages()
    assert [json.loads(m.data) for m in messages] == [{"run_id": stranded["id"]}]
    get_run(runs_api, user, stranded["id"])  # already republished: no second message
    assert _published(queue) == []
    assert worker.deliver(messages[0]) == 200
    assert get_run(runs_api, user, stranded["id"])["status"] == "succeeded"


def test_a_normally_queued_run_is_never_republished(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, env: Callable[..., None]
) -> None:
    env(RUN_REPUBLISH_AFTER_SECONDS="0")
    agent_id = create_agent(agents_api, user)
    queued = queue_run(runs_api, user, agent_id, "say once")
    get_run(runs_api, user, queued["id"])
    retry = run(runs_api, user, agent_id, "say once", mode="async")
    assert retry.status_code == 202
    messages = queue.pull(queue.requests_sub, expected=3, attempts=3)
    # Two requests without a key = two runs, one message each; the GET sent nothing.
    assert sorted(json.loads(m.data)["run_id"] for m in messages) == sorted(
        [queued["id"], retry.get_json()["id"]]
    )


# -- batches spend the run quota --------------------------------------------------------------


def test_a_batch_is_one_request_against_the_run_limit(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, env: Callable[..., None]
) -> None:
    env(RUN_RATE_LIMIT_PER_MINUTE="3")
    agent_id = create_agent(agents_api, user)
    body = {"agent_id": agent_id, "inputs": ["one", "two", "three", "four"], "idempotency_key": "b-1"}
    # A batch larger than the per-minute limit is accepted: its size is bounded by the contract.
    first = runs_api.post("/batches", token=user.token, json=body)
    assert first.status_code == 202, first.get_data(as_text=True)
    # An idempotent retry returns the same batch and spends nothing.
    retry = runs_api.post("/batches", token=user.token, json=body)
    assert retry.status_code == 202 and retry.get_json()["id"] == first.get_json()["id"]
    # 1 of 3 spent; a run (2 of 3) and another batch (3 of 3) fit; the next batch is 429.
    assert run(runs_api, user, agent_id, "say fits", mode="async").status_code == 202
    second = runs_api.post("/batches", token=user.token, json={"agent_id": agent_id, "inputs": ["a"]})
    assert second.status_code == 202, second.get_data(as_text=True)
    over = runs_api.post("/batches", token=user.token, json={"agent_id": agent_id, "inputs": ["b", "c"]})
    assert error_code(over, 429) == "rate_limited" and int(over.headers["Retry-After"]) >= 1
    runs = runs_api.get("/runs", token=user.token, query_string={"limit": 100}).get_json()["items"]
    assert len(runs) == 6  # 4 + 1 batch runs and the single run; nothing from the refused batch
    assert sorted(str(r["batch_id"]) for r in runs).count("None") == 1
