"""AG-UI resume answers that cannot apply are refused before anything is decided (the
accepted path is driven by the official ``@ag-ui/client`` in ``tests/test_npm_clients.py``),
and runs paused through AG-UI or the Responses API with the client's own history resume
asynchronously through the worker with that history."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker, get_run
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
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
    paused_events = _events(paused)
    # No empty text message before the tool call (the client makes the parent message itself).
    assert [e["type"] for e in paused_events] == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ]
    finished = paused_events[-1]
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


HISTORY = [
    {"id": "h1", "role": "user", "content": "earlier question"},
    {"id": "h2", "role": "assistant", "content": "earlier answer"},
    *MESSAGES,
]


def test_protocol_runs_paused_with_client_history_resume_async_with_it(
    apps: dict[str, ApiClient], user: TestUser, queue: Queue, worker: Worker
) -> None:
    """AG-UI clients and stateless Responses calls (``store: false``) send the conversation
    themselves; no session holds it. Paused, then decided with ``mode: "async"``, the run
    continues in the worker from its stored conversation: the model sees the earlier turns."""
    tools = [{"name": "grep", "enabled": True, "config": {"requires_approval": True}}]
    agent = apps["agents"].post("/agents", token=user.token, json=definition("c", tools=tools)).get_json()
    runs = apps["runs"]
    body = json.loads(_input("r1"))
    ag_ui = runs.request(
        "POST",
        f"/ag-ui/{agent['id']}",
        token=user.token,
        data=json.dumps({**body, "messages": HISTORY}),
        headers=HEADERS,
    )
    turns = [{"role": m["role"], "content": m["content"]} for m in HISTORY]
    responses = runs.post(
        "/v1/responses", token=user.token, json={"model": "c", "input": turns, "store": False}
    )
    assert responses.status_code == 200 and responses.get_json()["status"] == "incomplete"
    paused_ids = [ag_ui.headers["X-Run-Id"], responses.get_json()["id"].removeprefix("resp_")]
    for run_id in paused_ids:
        paused = get_run(runs, user, run_id)
        [item] = paused["required_action"]["items"]
        decision = {"tool_call_id": item["tool_call_id"], "approve": True, "args_sha256": item["args_sha256"]}
        queued = runs.post(
            f"/runs/{run_id}/approvals", token=user.token, json={"decisions": [decision], "mode": "async"}
        )
        assert queued.status_code == 202 and queued.get_json()["status"] == "queued", queued.get_json()
    # Queued, the run no longer waits: a late answer through the protocol is refused.
    late = [
        {
            "type": "mcp_approval_response",
            "approval_request_id": f"mcpr_{item['tool_call_id']}",
            "approve": True,
        }
    ]
    refused = runs.post(
        "/v1/responses",
        token=user.token,
        json={"model": "c", "previous_response_id": responses.get_json()["id"], "input": late},
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "run_not_waiting"
    for message in queue.run_messages(expected=2):
        assert worker.deliver(message) == 200
    for run_id in paused_ids:
        final = get_run(runs, user, run_id)
        assert final["status"] == "succeeded", final
        assert "Tool grep returned" in final["output"]
        assert final["output"].endswith("(message 2 of this conversation)"), final["output"]
