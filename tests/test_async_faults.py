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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT, LiveStack, TestUser
from tests.test_async_runs import push_body
from tests.test_worker_live import Api

RUNS = 500
CLIENTS = 8
WAIT_SECONDS = 240.0


@pytest.fixture
def no_run_quota(live_stack: LiveStack) -> Iterator[None]:
    """The runs function without the per-user run quota (500 runs from one user), restored after."""
    live_stack.env["RUN_RATE_LIMIT_PER_MINUTE"] = "0"
    live_stack.restart("runs")
    try:
        yield
    finally:
        live_stack.env.pop("RUN_RATE_LIMIT_PER_MINUTE", None)
        live_stack.restart("runs")


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
