"""AG-UI resume answers that cannot apply are refused before anything is decided (the
accepted path is driven by the official ``@ag-ui/client`` in ``tests/test_npm_clients.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_runs import definition

HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}
MESSAGES = [{"id": "m1", "role": "user", "content": 'call grep {"pattern": "x"}'}]


def _input(run_id: str, resume: list[dict[str, Any]] | None = None) -> bytes:
    body: dict[str, Any] = {
        "threadId": "t1",
        "runId": run_id,
        "messages": MESSAGES,
        "tools": [],
        "context": [],
    }
    if resume is not None:
        body["resume"] = resume
    return json.dumps(body).encode()


def _events(response: Any) -> list[dict[str, Any]]:
    text = response.get_data(as_text=True)
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_resume_refusals(apps: dict[str, ApiClient], make_user: Callable[..., TestUser]) -> None:
    user = make_user()
    tools = [{"name": "grep", "enabled": True, "config": {"requires_approval": True}}]
    agent = (
        apps["agents"].post("/agents", token=user.token, json=definition("c", tools=tools)).get_json()["id"]
    )
    runs = apps["runs"]
    paused = runs.request("POST", f"/ag-ui/{agent}", token=user.token, data=_input("r1"), headers=HEADERS)
    finished = _events(paused)[-1]
    assert finished["type"] == "RUN_FINISHED" and finished["outcome"]["type"] == "interrupt"
    [interrupt] = finished["outcome"]["interrupts"]
    run_id = paused.headers["X-Run-Id"]
    assert interrupt["id"] == f"int-{run_id}.{interrupt['toolCallId']}"
    ok = {"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": True}}
    cases: list[tuple[list[dict[str, Any]], int, str]] = [
        ([{**ok, "interruptId": "int-nope"}], 422, "validation_error"),
        ([{**ok, "interruptId": f"int-{run_id}.other-call"}], 422, "validation_error"),
        ([{**ok, "payload": {"approved": "yes"}}], 422, "validation_error"),
        (
            [{**ok, "payload": {"approved": True, "editedArgs": {"pattern": "y"}}}],
            400,
            "unsupported_parameter",
        ),
        ([ok, ok], 422, "validation_error"),
    ]
    for resume, status, code in cases:
        refused = runs.request(
            "POST", f"/ag-ui/{agent}", token=user.token, data=_input("r2", resume), headers=HEADERS
        )
        assert refused.status_code == status, (resume, refused.get_data(as_text=True))
        assert refused.get_json()["error"]["code"] == code
    run = runs.get(f"/runs/{run_id}", token=user.token).get_json()
    assert run["status"] == "requires_action" and run["approvals"] == []
    # Cancelling the interrupt denies the call; the run continues and finishes.
    cancelled = [{"interruptId": interrupt["id"], "status": "cancelled"}]
    resumed = runs.request(
        "POST", f"/ag-ui/{agent}", token=user.token, data=_input("r3", cancelled), headers=HEADERS
    )
    events = _events(resumed)
    assert events[0]["type"] == "RUN_STARTED" and events[0]["runId"] == "r3"
    assert events[-1] == {**events[-1], "type": "RUN_FINISHED", "outcome": {"type": "success"}}
    run = runs.get(f"/runs/{run_id}", token=user.token).get_json()
    assert run["status"] == "succeeded" and [d["approve"] for d in run["approvals"]] == [False]
    again = runs.request(
        "POST", f"/ag-ui/{agent}", token=user.token, data=_input("r4", cancelled), headers=HEADERS
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "run_finished"
