"""Evals (issue 20): a dataset run on pinned agent versions, scored once per run, compared.

Run messages are delivered to the worker app in-process (as in ``test_batches``); the
run-results messages they publish are delivered back to it on the results topic's path,
which is how the worker's results push subscription feeds ``shared.evals.scoring``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import PROJECT, Queue, Worker
from tests.test_runs import create_agent
from tools import localstack

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}


@pytest.fixture
def queue(pubsub_topology: localstack.Topology) -> Queue:
    return Queue(pubsub_topology)


@pytest.fixture
def worker(pubsub_topology: localstack.Topology) -> Worker:
    return Worker(pubsub_topology.run_requests)


def drive(
    queue: Queue, worker: Worker, topology: localstack.Topology, runs: int, *, twice: bool = False
) -> None:
    """Execute ``runs`` queued runs, then deliver their results (``twice``: each one two times)."""
    for message in queue.run_messages(runs):
        assert worker.deliver(message) in (200, 204)
    results_path = f"/projects/{PROJECT}/topics/{topology.run_results}"
    results = queue.results(runs)
    assert len(results) >= runs
    for message in results * (2 if twice else 1):
        body = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
                "publishTime": "2026-11-29T10:00:00Z",
            },
            "subscription": f"projects/{PROJECT}/subscriptions/results",
        }
        assert worker.push(body, results_path) in (200, 204)


def start_eval(runs_api: ApiClient, user: TestUser, **body: Any) -> dict[str, Any]:
    response = runs_api.post("/evals", token=user.token, json=body)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/evals/{response.get_json()['id']}"
    return response.get_json()


def get_eval(runs_api: ApiClient, user: TestUser, eval_id: str) -> dict[str, Any]:
    response = runs_api.get(f"/evals/{eval_id}", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_every_evaluator_scores_a_real_run(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    pubsub_topology: localstack.Topology,
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "find"}], output_schema=SCHEMA)
    rome = 'call find {"pattern": "*"}\noutput {"city": "Rome", "population": 2800000}'
    verdict = '{"passed": true, "score": 0.75, "reason": "names the capital"}'
    cases = [
        {
            "name": "all-pass",
            "input": rome,
            "expected_output": {"city": "Rome", "population": 2800000},
            "evaluators": [
                {"type": "equals", "value": {"city": "Rome", "population": 2800000}},
                {"type": "equals_expected"},
                {"type": "contains", "value": {"city": "Rome"}},
                {"type": "regex", "pattern": "rome", "ignore_case": True},
                {"type": "is_instance", "type_name": "dict"},
                {"type": "json_schema", "schema": {"properties": {"population": {"minimum": 1000000}}}},
                {"type": "max_duration", "seconds": 120},
                {"type": "max_cost", "usd": 1.0},
                {"type": "tool_called", "tools": ["find"], "allow_extra": False},
                {"type": "llm_judge", "rubric": f"Is Rome named?\noutput {verdict}", "include_input": True},
            ],
        },
        {
            "name": "all-fail",
            "input": 'output {"city": "Oslo", "population": 700000}',
            "expected_output": {"city": "Rome", "population": 2800000},
            "evaluators": [
                {"type": "equals", "value": "Rome"},
                {"type": "equals_expected"},
                {"type": "contains", "value": {"city": "Rome"}},
                {"type": "regex", "pattern": "rome"},
                {"type": "is_instance", "type_name": "str"},
                {"type": "json_schema", "schema": {"properties": {"population": {"minimum": 1000000}}}},
                {"type": "max_cost", "usd": 0.0},
                {"type": "tool_called", "tools": ["find"]},
                {
                    "type": "llm_judge",
                    "rubric": 'Is Rome named?\noutput {"passed": false, "score": 0, "reason": "Oslo"}',
                },
            ],
        },
    ]
    dataset = runs_api.post(
        "/eval-datasets", token=user.token, json={"name": "cities", "cases": cases}
    ).get_json()
    started = start_eval(runs_api, user, agent_id=agent_id, dataset_id=dataset["id"])
    assert started["status"] == "running" and started["counts"]["pending"] == 2
    drive(queue, worker, pubsub_topology, 2)
    done = get_eval(runs_api, user, started["id"])
    assert done["status"] == "completed", done
    assert done["counts"] == {"total": 2, "scored": 2, "passed": 1, "failed": 1, "errored": 0, "pending": 0}
    results = runs_api.get(f"/evals/{started['id']}/results", token=user.token).get_json()["items"]
    good, bad = results
    assert good["case_name"] == "all-pass" and good["passed"], good
    assert all(e["passed"] for e in good["evaluators"]) and len(good["evaluators"]) == 10
    judge = good["evaluators"][-1]
    assert judge == {
        "name": "llm_judge",
        "type": "llm_judge",
        "passed": True,
        "score": 0.75,
        "reason": "names the capital",
    }
    assert bad["case_name"] == "all-fail" and not bad["passed"]
    failed = {e["type"]: e for e in bad["evaluators"]}
    assert not any(e["passed"] for e in bad["evaluators"]), bad
    assert (
        "population" in failed["json_schema"]["reason"]
        and "not called: find" in failed["tool_called"]["reason"]
    )
    assert failed["llm_judge"]["reason"] == "Oslo"


def test_eval_of_two_versions_and_their_comparison(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    other_user: TestUser,
    queue: Queue,
    worker: Worker,
    pubsub_topology: localstack.Topology,
) -> None:
    # v1 answers from the prompt; v2's system prompt adds nothing the offline model reads, so
    # the cases flip by what each version is asked: the dataset checks the reply text.
    agent_id = create_agent(agents_api, user)
    cases = [
        {"name": "paris", "input": "say Paris", "expected_output": "Paris"},
        {"name": "rome", "input": "say Rome", "expected_output": "Paris"},
        {"name": "flaky", "input": "fail 400", "expected_output": "x"},
    ]
    dataset = runs_api.post(
        "/eval-datasets",
        token=user.token,
        json={"name": "capitals", "cases": cases, "evaluators": [{"type": "equals_expected"}]},
    ).get_json()
    v1 = start_eval(runs_api, user, agent_id=agent_id, dataset_id=dataset["id"], repeat=2)
    assert v1["agent_version"] == 1 and v1["counts"]["total"] == 6
    # The dataset changes and the agent moves on to v2 while v1's eval runs: v1 keeps its snapshot.
    runs_api.patch(
        f"/eval-datasets/{dataset['id']}",
        token=user.token,
        json={"cases": [*cases[:2], {"name": "flaky", "input": "say x", "expected_output": "x"}]},
    )
    put = agents_api.put(
        f"/agents/{agent_id}",
        token=user.token,
        json={**__import__("tests.test_runs").test_runs.definition("helper"), "system_prompt": "v2"},
    )
    assert put.status_code == 200, put.get_data(as_text=True)
    drive(queue, worker, pubsub_topology, 6, twice=True)  # every result delivered twice: scored once
    first = get_eval(runs_api, user, v1["id"])
    assert first["counts"] == {"total": 6, "scored": 6, "passed": 2, "failed": 4, "errored": 2, "pending": 0}
    summary = first["summary"]
    assert summary["pass_rate"] == pytest.approx(2 / 6) and summary["runs"] == 6 and summary["cases"] == 3
    assert summary["p50_latency_ms"] is not None and summary["p95_latency_ms"] >= summary["p50_latency_ms"]
    assert summary["cost_usd"] > 0
    assert summary["cost_per_run_usd"] == pytest.approx(summary["cost_usd"] / 6, rel=1e-2)

    v2 = start_eval(runs_api, user, agent_id=agent_id, dataset_id=dataset["id"])
    assert v2["agent_version"] == 2 and v2["dataset_revision"] == 2
    drive(queue, worker, pubsub_topology, 3)
    second = get_eval(runs_api, user, v2["id"])
    assert second["status"] == "completed" and second["counts"]["passed"] == 2
    pinned = start_eval(runs_api, user, agent_id=agent_id, dataset_id=dataset["id"], agent_version=1)
    assert pinned["agent_version"] == 1
    runs = runs_api.get(f"/batches/{pinned['id']}/runs", token=user.token).get_json()["items"]
    assert {r["agent_version"] for r in runs} == {1}

    compared = runs_api.get(f"/evals/{v2['id']}/compare/{v1['id']}", token=user.token)
    assert compared.status_code == 200, compared.get_data(as_text=True)
    body = compared.get_json()
    assert body["fixed"] == 1 and body["regressed"] == 0
    assert {c["case_name"]: c["change"] for c in body["cases"]} == {
        "paris": "unchanged_pass", "rome": "unchanged_fail", "flaky": "fixed",
    }  # fmt: skip
    assert body["pass_rate_delta"] == pytest.approx(2 / 3 - 2 / 6, abs=1e-5)

    listed = runs_api.get(f"/evals?agent_id={agent_id}", token=user.token).get_json()["items"]
    assert [e["id"] for e in listed] == [pinned["id"], v2["id"], v1["id"]]
    assert runs_api.get(f"/evals?agent_id={agent_id}", token=other_user.token).get_json()["items"] == []
    assert runs_api.get(f"/evals/{v1['id']}", token=other_user.token).status_code == 404
    assert runs_api.get(f"/evals/{v2['id']}/compare/{v1['id']}", token=other_user.token).status_code == 404


def test_bad_eval_requests_write_nothing(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser, queue: Queue
) -> None:
    agent_id = create_agent(agents_api, user)
    dataset = runs_api.post(
        "/eval-datasets", token=user.token, json={"name": "d", "cases": [{"name": "a", "input": "hi"}]}
    ).get_json()
    for body, status in [
        ({"agent_id": agent_id, "dataset_id": "missing"}, 404),
        ({"agent_id": "missing", "dataset_id": dataset["id"]}, 404),
        ({"agent_id": agent_id, "dataset_id": dataset["id"], "agent_version": 7}, 404),
        ({"agent_id": agent_id, "dataset_id": dataset["id"], "repeat": 0}, 422),
        ({"agent_id": agent_id, "dataset_id": dataset["id"], "surprise": 1}, 422),
    ]:
        response = runs_api.post("/evals", token=user.token, json=body)
        assert response.status_code == status, (body, response.get_data(as_text=True))
    # Someone else's private dataset is invisible.
    mine = create_agent(agents_api, other_user)
    response = runs_api.post(
        "/evals", token=other_user.token, json={"agent_id": mine, "dataset_id": dataset["id"]}
    )
    assert response.status_code == 404
    assert runs_api.get("/evals", token=user.token).get_json()["items"] == []
    assert queue.run_messages(0) == []
