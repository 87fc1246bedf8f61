"""Workflow agents over HTTP: definition checks, sync / stream / async runs, failures, cancel (issue 12)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.conftest import ApiClient, LiveStack, TestUser
from tests.test_runs import create_agent, iter_events, ok_run, read_all, run


def workflow(name: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "workflow", "workflow": {"steps": steps}, **extra}


def create_workflow(
    api: ApiClient, user: TestUser, name: str, steps: list[dict[str, Any]], **extra: Any
) -> str:
    response = api.post("/agents", token=user.token, json=workflow(name, steps, **extra))
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def three_step(api: ApiClient, user: TestUser, *, fail_middle: bool = False) -> tuple[str, list[str]]:
    """draft → polish → sign; the offline model answers each step's ``say`` line."""
    agents = [create_agent(api, user, name) for name in ("drafter", "polisher", "signer")]
    middle = "fail 400\n" if fail_middle else ""
    steps = [
        {"agent_id": agents[0], "name": "draft", "input_template": "{{input}}"},
        {
            "agent_id": agents[1],
            "name": "polish",
            "input_template": middle + "say {{steps[0].output}} polished",
        },
        {
            "agent_id": agents[2],
            "name": "sign",
            "input_template": "say {{ steps[1].output }} / signed (draft was: {{steps[0].output}})",
        },
    ]
    return create_workflow(api, user, "pipeline", steps), agents


EXPECTED_OUTPUT = "alpha polished / signed (draft was: alpha)"


def check_step_events(
    events: list[tuple[str, dict[str, Any]]], run: dict[str, Any], agents: list[str]
) -> None:
    """Per-step events in order, each step's own events tagged, usage/cost summed over the steps."""
    types = [t for t, _ in events]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    started = [d for t, d in events if t == "step.started"]
    completed = [d for t, d in events if t == "step.completed"]
    assert [d["step"] for d in started] == [0, 1, 2]
    assert [d["name"] for d in started] == ["draft", "polish", "sign"]
    assert [d["agent_id"] for d in started] == agents
    assert started[1]["input"] == "say alpha polished"
    assert [d["output"] for d in completed] == ["alpha", "alpha polished", EXPECTED_OUTPUT]
    # Every text delta sits between its step's started and completed events, tagged with it.
    current = None
    for event_type, data in events:
        if event_type == "step.started":
            current = data["step"]
        elif event_type == "step.completed":
            assert data["step"] == current
            current = None
        elif event_type == "text.delta":
            assert data["step"] == current
    for index in range(3):
        text = "".join(d["delta"] for t, d in events if t == "text.delta" and d["step"] == index)
        assert text == completed[index]["output"]
    for key in ("requests", "input_tokens", "output_tokens", "tool_calls"):
        assert run["usage"][key] == sum(d["usage"][key] for d in completed), key
    assert run["usage"]["requests"] == 3
    assert run["cost_usd"] == pytest.approx(sum(d["cost_usd"] for d in completed))
    assert run["cost_usd"] > 0


def stored(run_id: str) -> list[tuple[str, dict[str, Any]]]:
    from shared.runs.events import read_events

    return [(e.type, e.data) for e in read_events(run_id)]


# -- definition time -------------------------------------------------------------------------


def test_workflow_definitions_are_checked(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    mine = create_agent(agents_api, user, "mine")
    theirs = create_agent(agents_api, other_user, "theirs")

    def refused(body: dict[str, Any]) -> list[str]:
        response = agents_api.post("/agents", token=user.token, json=body)
        assert response.status_code == 422, response.get_data(as_text=True)
        return [f["loc"] for f in response.get_json()["error"]["details"]["fields"]]

    assert refused(workflow("w", [{"agent_id": theirs}])) == ["workflow.steps[0].agent_id"]
    assert refused(workflow("w", [{"agent_id": "nope"}])) == ["workflow.steps[0].agent_id"]
    assert refused(workflow("w", [{"agent_id": mine, "input_template": "{{steps[0].output}}"}])) == [
        "workflow.steps[0].input_template"
    ]
    assert refused(workflow("w", [{"agent_id": mine, "input_template": "{{ __import__('os') }}"}])) == [
        "workflow.steps[0].input_template"
    ]
    with_model = workflow(
        "w", [{"agent_id": mine}], model={"provider": "vertex-gemini", "name": "gemini-2.5-flash"}
    )
    assert refused(with_model) == ["model"]

    # Cycles: a → w (workflow with step a) → a would loop.
    flow = create_workflow(agents_api, user, "flow", [{"agent_id": mine}])
    nested = refused(workflow("outer", [{"agent_id": flow}]))
    assert nested == ["workflow.steps[0].agent_id"]
    helper = agents_api.get(f"/agents/{mine}", token=user.token).get_json()
    definition = {k: helper[k] for k in ("name", "model", "system_prompt", "tools", "limits")}
    cyc = agents_api.put(f"/agents/{mine}", token=user.token, json={**definition, "delegates": [flow]})
    assert cyc.status_code == 422
    assert [f["loc"] for f in cyc.get_json()["error"]["details"]["fields"]] == ["delegates[0]"]
    self_step = agents_api.put(
        f"/agents/{flow}", token=user.token, json=workflow("flow", [{"agent_id": flow}])
    )
    assert self_step.status_code == 422
    assert agents_api.get("/agents", token=user.token).get_json()["items"].__len__() == 2


# -- sync and stream -------------------------------------------------------------------------


def test_three_step_workflow_sync(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    workflow_id, agents = three_step(agents_api, user)
    run = ok_run(runs_api, user, workflow_id, "say alpha")
    assert run["status"] == "succeeded", run
    assert run["output"] == EXPECTED_OUTPUT
    check_step_events(stored(run["id"]), run, agents)


def test_three_step_workflow_stream(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    workflow_id, agents = three_step(agents_api, user)
    response = runs_api.post(
        "/runs", token=user.token, json={"agent_id": workflow_id, "input": "say alpha", "mode": "stream"}
    )
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = read_all(response)
    ids = [int(e.id) for e in events if e.id is not None]
    assert ids == sorted(ids) and len(ids) == len(events)
    run = events[-1].data["run"]
    assert run["status"] == "succeeded" and run["output"] == EXPECTED_OUTPUT
    check_step_events([(str(e.event), e.data) for e in events], run, agents)
    # The stored events say the same (resumable through GET /runs/{id}/events).
    assert [t for t, _ in stored(run["id"]) if t.startswith("step.")] == [
        str(e.event) for e in events if str(e.event).startswith("step.")
    ]


def test_vercel_stream_of_a_workflow_ends_once(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    workflow_id, _ = three_step(agents_api, user)
    response = runs_api.post(
        "/runs?format=vercel-ai",
        token=user.token,
        json={"agent_id": workflow_id, "input": "say alpha", "mode": "stream"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.count('"type":"finish"') == 1
    assert "signed" in text


def test_failing_step_fails_the_run_naming_it(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    workflow_id, _ = three_step(agents_api, user, fail_middle=True)
    run = ok_run(runs_api, user, workflow_id, "say alpha")
    assert run["status"] == "failed"
    assert run["error"]["code"] == "step_failed"
    assert "step 1 ('polish')" in run["error"]["message"]
    events = stored(run["id"])
    types = [t for t, _ in events]
    assert types.count("step.started") == 2 and "step.completed" in types
    failed = next(d for t, d in events if t == "step.failed")
    assert failed["step"] == 1 and failed["error"]["code"] == "model_request_rejected"
    # Usage still counts what the steps used (step 0 succeeded; step 1's failed request is not billed).
    completed = next(d for t, d in events if t == "step.completed")
    assert run["usage"]["requests"] >= completed["usage"]["requests"] == 1
    assert run["cost_usd"] >= completed["cost_usd"] > 0


def test_missing_step_agent_at_run_time(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    workflow_id, agents = three_step(agents_api, user)
    assert agents_api.delete(f"/agents/{agents[2]}", token=user.token).status_code == 204
    run = ok_run(runs_api, user, workflow_id, "say alpha")
    assert run["status"] == "failed" and run["error"]["code"] == "step_failed"
    assert "step 2 ('sign')" in run["error"]["message"]
    assert run["usage"]["requests"] == 2


def test_workflow_limits_bound_the_total(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agents = [create_agent(agents_api, user, f"a{i}") for i in range(3)]
    steps = [{"agent_id": a, "input_template": "say step"} for a in agents]
    workflow_id = create_workflow(agents_api, user, "capped", steps, limits={"max_requests": 2})
    run = ok_run(runs_api, user, workflow_id, "go")
    assert run["status"] == "failed" and run["error"]["code"] == "usage_limit_exceeded"
    assert "max_requests" in run["error"]["message"] and run["usage"]["requests"] == 2


def test_a_workflow_keeps_a_session_conversation(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    """Each turn is the run's input and the workflow's output; the first step sees the history."""
    from tests.test_sessions import new_session

    answer, sign = (create_agent(agents_api, user, name) for name in ("answerer", "signer"))
    steps = [
        {"agent_id": answer, "name": "answer", "input_template": "{{input}}"},
        {"agent_id": sign, "name": "sign", "input_template": "say {{steps[0].output}} -- signed"},
    ]
    workflow_id = create_workflow(agents_api, user, "chat-pipeline", steps)
    session_id = new_session(runs_api, user, workflow_id)
    outputs = [
        ok_run(runs_api, user, workflow_id, f"turn {n}", session_id=session_id)["output"] for n in (1, 2)
    ]
    # The offline model counts the user messages it was sent: turn 2's first step saw turn 1.
    assert outputs[0].startswith('Offline reply to "turn 1". (message 1 of this conversation)')
    assert outputs[1].startswith('Offline reply to "turn 2". (message 2 of this conversation)')
    assert all(output.endswith(" -- signed") for output in outputs)
    detail = runs_api.get(f"/sessions/{session_id}", token=user.token).get_json()
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "turn 1"),
        ("assistant", outputs[0]),
        ("user", "turn 2"),
        ("assistant", outputs[1]),
    ]
    # A failed turn is not part of the conversation.
    failed = run(runs_api, user, workflow_id, "fail 400", session_id=session_id).get_json()
    assert failed["status"] == "failed"
    assert (
        runs_api.get(f"/sessions/{session_id}", token=user.token).get_json()["session"]["message_count"] == 4
    )


def test_cancel_stops_between_steps(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.execution.offline import open_gate
    from shared.runs import runner

    monkeypatch.setattr(runner, "CANCEL_POLL_SECONDS", 0.0)
    workflow_id, _ = three_step(agents_api, user)
    gate = f"wf-{time.monotonic_ns()}"
    response = runs_api.post(
        "/runs",
        token=user.token,
        json={"agent_id": workflow_id, "input": f"gate {gate}\nsay alpha beta", "mode": "stream"},
    )
    seen: list[str] = []
    run: dict[str, Any] | None = None
    for event in iter_events(response):
        seen.append(str(event.event))
        if event.event == "run.started":
            run_id = event.data["run"]["id"]
        if event.event == "text.delta" and seen.count("text.delta") == 1:
            cancelled = runs_api.post(f"/runs/{run_id}/cancel", token=user.token)
            assert cancelled.status_code in (200, 202), cancelled.get_data(as_text=True)
            open_gate(gate)
        if event.event in ("run.completed", "run.failed"):
            run = event.data["run"]
    assert run is not None and run["status"] == "cancelled"
    assert seen.count("step.started") == 1
    assert runs_api.get(f"/runs/{run['id']}", token=user.token).get_json()["status"] == "cancelled"


# -- async (worker through Pub/Sub) -----------------------------------------------------------


def test_three_step_workflow_async(live_stack: LiveStack, make_user: Any) -> None:
    user = make_user()
    base = live_stack.base_url
    headers = user.headers

    def create(body: dict[str, Any]) -> str:
        response = requests.post(f"{base}/agents", json=body, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    model = {"provider": "vertex-gemini", "name": "gemini-2.5-flash"}
    agents = [create({"name": name, "model": model}) for name in ("drafter", "polisher", "signer")]
    steps = [
        {"agent_id": agents[0], "name": "draft", "input_template": "{{input}}"},
        {"agent_id": agents[1], "name": "polish", "input_template": "say {{steps[0].output}} polished"},
        {
            "agent_id": agents[2],
            "name": "sign",
            "input_template": "say {{ steps[1].output }} / signed (draft was: {{steps[0].output}})",
        },
    ]
    workflow_id = create(workflow("pipeline", steps))
    queued = requests.post(
        f"{base}/runs",
        json={"agent_id": workflow_id, "input": "say alpha", "mode": "async"},
        headers=headers,
        timeout=30,
    )
    assert queued.status_code == 202, queued.text
    run_id = queued.json()["id"]
    run: dict[str, Any] = queued.json()
    deadline = time.monotonic() + 120
    while run["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        run = requests.get(f"{base}/runs/{run_id}", headers=headers, timeout=30).json()
    assert run["status"] == "succeeded", run
    assert run["output"] == EXPECTED_OUTPUT
    # The record is finished just before its closing event is stored: read until it is there.
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = requests.get(f"{base}/runs/{run_id}/events", headers=headers, timeout=30).json()
        items = events["items"] if isinstance(events, dict) else events
        if items and items[-1]["type"] == "run.completed":
            break
        time.sleep(0.2)
    check_step_events([(e["type"], e["data"]) for e in items], run, agents)
