"""Evals that lose a piece of their work still end (issue 20): the sweep scores runs whose
result message was lost and resumes a fan-out whose request died; ``POST /evals`` honours
``Idempotency-Key`` (a retry returns the first eval and never runs its cases twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker
from tests.test_evals import get_eval
from tests.test_evals import queue as queue
from tests.test_evals import worker as worker
from tests.test_runs import create_agent

CASES = [
    {"name": "hello", "input": "say hello", "evaluators": [{"type": "equals", "value": "hello"}]},
    {"name": "bye", "input": "say bye", "evaluators": [{"type": "equals", "value": "hello"}]},
]


def _dataset(runs_api: ApiClient, user: TestUser) -> str:
    response = runs_api.post("/eval-datasets", token=user.token, json={"name": "greetings", "cases": CASES})
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _backdate(eval_id: str) -> None:
    """Make the eval old enough for the sweep (as if minutes had passed)."""
    from shared import db
    from shared.evals.service import eval_ref

    db.update(eval_ref(eval_id), {"created_at": datetime.now(UTC) - timedelta(minutes=5)})


def _stored(eval_id: str) -> Any:
    from shared.evals.service import load

    return load(eval_id)


def test_the_sweep_scores_runs_whose_result_message_was_lost(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    from shared.runs.sweep import sweep

    agent_id = create_agent(agents_api, user)
    started = runs_api.post(
        "/evals", token=user.token, json={"agent_id": agent_id, "dataset_id": _dataset(runs_api, user)}
    ).get_json()
    for message in queue.run_messages(2):
        assert worker.deliver(message) in (200, 204)
    # The run-results messages are never delivered (lost): nothing scored them.
    assert _stored(started["id"]).scored == 0
    _backdate(started["id"])
    report = sweep()
    assert report.evals_checked == 1 and report.evals_completed == 1
    record = _stored(started["id"])  # read directly: GET /evals would reconcile by itself
    assert record.status == "completed" and record.scored == 2 and record.passed == 1
    assert record.summary is not None and record.summary.pass_rate == 0.5
    # A second sweep finds nothing to do and changes nothing.
    assert sweep().evals_checked == 0


def test_a_died_request_is_resumed_by_its_retry_or_by_the_sweep(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.evals import service
    from shared.runs.sweep import sweep

    agent_id = create_agent(agents_api, user)
    body = {"agent_id": agent_id, "dataset_id": _dataset(runs_api, user)}
    original = service.ensure_fanned_out

    def die(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the instance died before the fan-out")

    monkeypatch.setattr(service, "ensure_fanned_out", die)
    key = {"Idempotency-Key": "eval-1"}
    assert runs_api.post("/evals", token=user.token, json=body, headers=key).status_code == 500
    assert runs_api.post("/evals", token=user.token, json=body).status_code == 500
    monkeypatch.setattr(service, "ensure_fanned_out", original)
    listed = runs_api.get("/evals", token=user.token).get_json()["items"]
    keyed, unkeyed = sorted(listed, key=lambda e: e["created_at"])
    # The retry with the key returns the first eval and fans it out (no second eval).
    retried = runs_api.post("/evals", token=user.token, json=body, headers=key)
    assert retried.status_code == 202 and retried.get_json()["id"] == keyed["id"]
    # The eval without a key is fanned out by the sweep.
    _backdate(unkeyed["id"])
    sweep()
    messages = queue.run_messages(4)
    for message in messages:
        assert worker.deliver(message) in (200, 204)
    for eval_id in (keyed["id"], unkeyed["id"]):
        batch = runs_api.get(f"/batches/{eval_id}", token=user.token).get_json()
        assert batch["total"] == 2 and batch["counts"]["succeeded"] == 2
    assert len(runs_api.get("/evals", token=user.token).get_json()["items"]) == 2
    assert get_eval(runs_api, user, unkeyed["id"])["counts"]["total"] == 2


def test_idempotency_key_on_post_evals(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user)
    body = {"agent_id": agent_id, "dataset_id": _dataset(runs_api, user)}
    key = {"Idempotency-Key": "k-1"}
    first = runs_api.post("/evals", token=user.token, json=body, headers=key)
    second = runs_api.post("/evals", token=user.token, json=body, headers=key)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    in_body = runs_api.post("/evals", token=user.token, json={**body, "idempotency_key": "k-1"})
    assert in_body.get_json()["id"] == first.get_json()["id"]
    changed = runs_api.post("/evals", token=user.token, json={**body, "repeat": 2}, headers=key)
    assert changed.status_code == 409 and changed.get_json()["error"]["code"] == "idempotency_key_reused"
    mismatch = runs_api.post(
        "/evals", token=user.token, json={**body, "idempotency_key": "other"}, headers=key
    )
    assert mismatch.status_code == 422
    evals = runs_api.get("/evals", token=user.token).get_json()["items"]
    assert [e["id"] for e in evals] == [first.get_json()["id"]]
    batch = runs_api.get(f"/batches/{first.get_json()['id']}", token=user.token).get_json()
    assert batch["total"] == 2
