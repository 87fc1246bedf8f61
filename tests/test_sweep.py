"""The sweep: async runs and batches whose creating request died are recovered without anyone
asking (shared/runs/sweep.py).

In-process: the runs function and the worker as test apps, run messages pulled and pushed one
by one (see ``test_async_runs``); a sweep is the worker receiving a ``kind=sweep`` message, as
Cloud Scheduler sends it. The last test goes end to end: ``make dev``'s sweeper publishing
to the Pub/Sub emulator, which pushes to the live worker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.runs.sweep import SWEEP_ATTRIBUTES
from tests.conftest import PROJECT, ApiClient, LiveStack, TestUser
from tests.test_async_faults import _Crash, _published, strand_a_run
from tests.test_async_faults import dies_before_publishing as dies_before_publishing
from tests.test_async_runs import Queue, Worker, get_run, push_body
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
from tests.test_runs import create_agent, run
from tests.test_worker_live import Api
from tools import localstack


def sweep(worker: Worker) -> None:
    """Deliver a sweep message like Cloud Scheduler's job (infra/scheduler.tf) sends it."""
    assert worker.push(push_body(b"{}", **SWEEP_ATTRIBUTES)) == 200


def get_batch(runs_api: ApiClient, user: TestUser, batch_id: str) -> dict[str, Any]:
    response = runs_api.get(f"/batches/{batch_id}", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.usefixtures("dies_before_publishing")
def test_the_sweep_republishes_a_run_whose_request_died_and_nobody_came_back(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    env: Callable[..., None],
) -> None:
    stranded = strand_a_run(agents_api, runs_api, user, "say swept up")
    # Younger than RUN_REPUBLISH_AFTER_SECONDS: its request may still be publishing.
    sweep(worker)
    assert _published(queue) == []
    env(RUN_REPUBLISH_AFTER_SECONDS="0")
    sweep(worker)
    messages = queue.run_messages()
    assert [json.loads(m.data) for m in messages] == [{"run_id": stranded["id"]}]
    sweep(worker)  # marked published: the next sweep sends nothing
    assert _published(queue) == []
    assert worker.deliver(messages[0]) == 200
    final = get_run(runs_api, user, stranded["id"])
    assert final["status"] == "succeeded" and final["output"] == "swept up" and final["attempts"] == 1


def test_the_sweep_clears_the_flag_of_a_run_that_ran_after_all(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    env: Callable[..., None],
) -> None:
    """Published, but the request died before marking it: the worker ran it; nothing is resent."""
    from shared.runs import repository
    from shared.runs.sweep import sweep as run_sweep

    agent_id = create_agent(agents_api, user)
    response = run(runs_api, user, agent_id, "say once", mode="async")
    assert response.status_code == 202
    run_id = response.get_json()["id"]
    assert worker.deliver(queue.run_messages()[0]) == 200
    repository.update_run(run_id, {"publish_pending": True})
    env(RUN_REPUBLISH_AFTER_SECONDS="0")
    report = run_sweep()
    assert (report.runs_cleared, report.runs_republished) == (1, 0)
    assert _published(queue) == []
    assert repository.load_run(run_id).publish_pending is False  # type: ignore[union-attr]
    assert get_run(runs_api, user, run_id)["status"] == "succeeded"


@pytest.fixture
def batch_dies_after_two_inputs(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The next POST /batches stores its first two runs, then dies; returns a function that heals it."""
    from shared.runs import batches

    real = batches._write_runs  # pyright: ignore[reportPrivateUsage]

    def write_runs(records: list[Any], *, resumed: bool) -> list[Any]:
        real(records[:2], resumed=resumed)
        raise _Crash("instance killed mid fan-out")

    monkeypatch.setattr(batches, "_write_runs", write_runs)
    return lambda: monkeypatch.setattr(batches, "_write_runs", real)


def test_a_batch_whose_request_died_midway_is_recovered_and_a_retry_completes_it(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    env: Callable[..., None],
    batch_dies_after_two_inputs: Callable[[], None],
) -> None:
    agent_id = create_agent(agents_api, user)
    body = {"agent_id": agent_id, "inputs": [f"say item {i}" for i in range(5)], "idempotency_key": "b-1"}
    assert runs_api.post("/batches", token=user.token, json=body).status_code == 500
    from shared import db
    from shared.runs.batches import BATCHES

    (batch_id,) = [snap.id for snap in db.query(db.collection(BATCHES))]
    stuck = get_batch(runs_api, user, batch_id)
    assert stuck["status"] == "queued" and stuck["counts"]["queued"] == 5 and stuck["inputs_lost"] == 0
    sweep(worker)  # younger than BATCH_RECOVER_AFTER_SECONDS: left to its request
    assert _published(queue) == [] and get_batch(runs_api, user, batch_id)["inputs_lost"] == 0

    env(BATCH_RECOVER_AFTER_SECONDS="0")
    sweep(worker)
    messages = queue.run_messages(2)
    assert sorted(json.loads(m.data)["run_id"] for m in messages) == [f"{batch_id}-0000", f"{batch_id}-0001"]
    recovered = get_batch(runs_api, user, batch_id)
    # The three inputs the request never stored count as failed; the batch can still finish.
    assert recovered["inputs_lost"] == 3
    assert recovered["counts"] == {
        "queued": 2,
        "running": 0,
        "succeeded": 0,
        "failed": 3,
        "cancelled": 0,
        "requires_action": 0,
    }
    for message in messages:
        assert worker.deliver(message) == 200
    done = get_batch(runs_api, user, batch_id)
    assert done["status"] == "completed" and done["counts"]["succeeded"] == 2
    sweep(worker)  # recovered once: nothing more to send
    assert _published(queue) == []

    # The client retries with the same key: the lost inputs are stored and run.
    batch_dies_after_two_inputs()
    retry = runs_api.post("/batches", token=user.token, json=body)
    assert retry.status_code == 202, retry.get_data(as_text=True)
    assert retry.get_json()["id"] == batch_id and retry.get_json()["inputs_lost"] == 0
    resent = queue.run_messages(3)
    assert sorted(json.loads(m.data)["run_id"] for m in resent) == [f"{batch_id}-000{i}" for i in (2, 3, 4)]
    for message in resent:
        assert worker.deliver(message) == 200
    final = get_batch(runs_api, user, batch_id)
    assert final["status"] == "completed" and final["inputs_lost"] == 0
    assert final["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 5,
        "failed": 0,
        "cancelled": 0,
        "requires_action": 0,
    }
    outputs = [
        r["output"] for r in runs_api.get(f"/batches/{batch_id}/runs", token=user.token).get_json()["items"]
    ]
    assert outputs == [f"item {i}" for i in range(5)]


def test_a_sweep_message_is_never_taken_for_a_run_message(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    """Whatever its body names, a sweep message is a sweep: acked, and no run executes."""
    agent_id = create_agent(agents_api, user)
    queued = run(runs_api, user, agent_id, "say not yet", mode="async").get_json()
    queue.run_messages()
    body = json.dumps({"run_id": queued["id"]}).encode()
    assert worker.push(push_body(body, run_id=queued["id"], **SWEEP_ATTRIBUTES)) == 200
    assert get_run(runs_api, user, queued["id"])["status"] == "queued"


def test_make_devs_sweeper_recovers_a_stranded_run_through_the_emulator(
    live_stack: LiveStack, user: TestUser
) -> None:
    """A run stored an hour ago whose message never went out; the live worker gets the sweep."""
    from shared.runs import repository
    from shared.runs.schemas import RunCreate
    from shared.runs.service import new_run_record

    api = Api(live_stack, user)
    agent_id = api.agent()
    record = new_run_record(
        owner_id=user.id,
        agent_id=agent_id,
        agent_version=1,
        body=RunCreate.model_validate({"agent_id": agent_id, "input": "say found", "mode": "async"}),
        status="queued",
        idempotency_key=None,
    ).model_copy(update={"publish_pending": True, "created_at": datetime.now(UTC) - timedelta(hours=1)})
    repository.create_run(record)
    sweeper = localstack.Sweeper(PROJECT, live_stack.topology.run_requests, interval=0.5)
    sweeper.start()
    try:
        # Polled in Firestore, not through GET /runs/{id} (which would republish it too).
        stored = repository.load_run(record.id)
        deadline = time.monotonic() + 120
        while stored is not None and not (stored.finished and not stored.publish_pending):
            assert time.monotonic() < deadline, stored
            time.sleep(0.3)
            stored = repository.load_run(record.id)
    finally:
        sweeper.stop()
    assert stored is not None and stored.status == "succeeded" and stored.output == "found"
