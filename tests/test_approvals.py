"""Human approval of tool calls (issue 16): runs pause as ``requires_action`` and resume.

Over HTTP against the emulators with the offline model (``call <tool> <json>`` makes it call
a tool); async resumes go through the worker function fed like the emulator pushes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker, events_of, get_run
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
from tests.test_runs import create_agent, error_code, read_all, run

WRITE = 'Save it\ncall file_write {"path": "out/note.txt", "content": "hello\\n", "append": true}'
APPROVAL_TOOLS = [{"name": "file_write", "config": {"requires_approval": True}}]


def approval_agent(agents_api: ApiClient, user: TestUser, **extra: Any) -> str:
    return create_agent(agents_api, user, tools=APPROVAL_TOOLS, **extra)


def paused_run(runs_api: ApiClient, user: TestUser, agent_id: str, prompt: str = WRITE, **extra: Any) -> Any:
    response = run(runs_api, user, agent_id, prompt, **extra)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "requires_action", body
    return body


def decide(
    runs_api: ApiClient, user: TestUser, run: dict[str, Any], approve: bool = True, **extra: Any
) -> Any:
    item = run["required_action"]["items"][0]
    decision: dict[str, Any] = {
        "tool_call_id": item["tool_call_id"],
        "approve": approve,
        "args_sha256": item["args_sha256"],
    }
    decision.update(extra.pop("decision", {}))
    headers = extra.pop("headers", None)
    path = f"/runs/{run['id']}/approvals" + extra.pop("query", "")
    return runs_api.post(path, token=user.token, json={"decisions": [decision], **extra}, headers=headers)


def written(workspace_root: Path, user: TestUser) -> str | None:
    path = workspace_root / user.id / "out" / "note.txt"
    return path.read_text() if path.exists() else None


# -- sync ------------------------------------------------------------------------------------


def test_sync_run_pauses_and_an_approval_resumes_it(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    from shared.runs.pausing import args_sha256

    agent_id = approval_agent(agents_api, user)
    paused = paused_run(runs_api, user, agent_id)
    action = paused["required_action"]
    assert action["type"] == "tool_approval" and len(action["items"]) == 1
    item = action["items"][0]
    args = {"path": "out/note.txt", "content": "hello\n", "append": True}
    assert item["tool_name"] == "file_write" and item["args"] == args
    assert item["args_sha256"] == args_sha256(args) and item["agent_id"] == agent_id
    assert item["expires_at"] > item["requested_at"]
    assert paused["usage"]["requests"] == 1 and paused["finished_at"] is None
    assert written(workspace_root, user) is None  # nothing ran yet
    assert [e["type"] for e in events_of(runs_api, user, paused["id"])][-1] == "run.requires_action"

    response = decide(runs_api, user, paused)
    assert response.status_code == 200, response.get_data(as_text=True)
    final = response.get_json()
    assert final["status"] == "succeeded", final
    assert "Tool file_write returned" in final["output"]
    assert final["required_action"] is None and final["usage"]["requests"] == 2
    assert final["usage"]["tool_calls"] == 1
    assert written(workspace_root, user) == "hello\n"
    [decision] = final["approvals"]
    assert decision["approve"] is True and decision["decided_by"] == user.id
    assert decision["args_sha256"] == item["args_sha256"] and decision["decided_at"]
    types = [e["type"] for e in events_of(runs_api, user, paused["id"])]
    assert types[types.index("run.requires_action") + 1 :][:2] == ["approval.decided", "run.resumed"]
    assert types[-1] == "run.completed"


def test_a_denial_reaches_the_model_with_its_reason(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    agent_id = approval_agent(agents_api, user)
    paused = paused_run(runs_api, user, agent_id)
    response = decide(runs_api, user, paused, approve=False, decision={"reason": "not this folder"})
    final = response.get_json()
    assert final["status"] == "succeeded", final
    assert written(workspace_root, user) is None
    assert final["approvals"][0]["approve"] is False and final["approvals"][0]["reason"] == "not this folder"
    result = next(e for e in events_of(runs_api, user, paused["id"]) if e["type"] == "tool.result")
    assert result["data"]["outcome"] == "denied" and "not this folder" in json.dumps(
        result["data"]["content"]
    )
    # The model got the denial as the tool's result (the offline model reports it).
    assert "could not be used" in final["output"]
    from shared.runs.checkpoints import load

    denied = [
        p for m in load(paused["id"]).messages for p in m.parts if getattr(p, "outcome", None) == "denied"
    ]
    assert denied and "not this folder" in str(denied[0].content)


def test_bad_decisions_are_refused_and_decide_nothing(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser, workspace_root: Path
) -> None:
    agent_id = approval_agent(agents_api, user)
    paused = paused_run(runs_api, user, agent_id)
    mismatch = decide(runs_api, user, paused, decision={"args_sha256": "0" * 64})
    assert error_code(mismatch, 409) == "args_mismatch"
    unknown = decide(runs_api, user, paused, decision={"tool_call_id": "nope"})
    assert error_code(unknown, 422) == "validation_error"
    assert error_code(decide(runs_api, other_user, paused), 404) == "not_found"
    assert error_code(runs_api.post("/runs/missing/approvals", token=user.token, json={"decisions": []}), 422)
    still = get_run(runs_api, user, paused["id"])
    assert still["status"] == "requires_action" and still["approvals"] == []

    assert decide(runs_api, user, paused, mode="async").status_code == 202  # decided, queued
    assert error_code(decide(runs_api, user, paused), 409) == "run_not_waiting"
    assert written(workspace_root, user) is None


def test_a_retried_decision_with_its_key_decides_once(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    agent_id = approval_agent(agents_api, user)
    paused = paused_run(runs_api, user, agent_id)
    first = decide(runs_api, user, paused, headers={"Idempotency-Key": "d-1"})
    assert first.status_code == 200 and first.get_json()["status"] == "succeeded"
    again = decide(runs_api, user, paused, headers={"Idempotency-Key": "d-1"})
    assert again.status_code == 200 and again.get_json()["status"] == "succeeded"
    assert written(workspace_root, user) == "hello\n"  # the approved tool ran once
    assert error_code(decide(runs_api, user, paused), 409) == "run_finished"


def test_two_calls_are_decided_one_by_one(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    agent_id = approval_agent(agents_api, user)
    prompt = (
        "Two files\n"
        'call file_write {"path": "out/a.txt", "content": "a"}\n'
        'call file_write {"path": "out/b.txt", "content": "b"}'
    )
    paused = paused_run(runs_api, user, agent_id, prompt)
    first, second = paused["required_action"]["items"]
    decision = {"tool_call_id": first["tool_call_id"], "approve": True, "args_sha256": first["args_sha256"]}
    partly = runs_api.post(
        f"/runs/{paused['id']}/approvals", token=user.token, json={"decisions": [decision]}
    )
    assert partly.status_code == 200 and partly.get_json()["status"] == "requires_action"
    assert (
        error_code(
            runs_api.post(
                f"/runs/{paused['id']}/approvals", token=user.token, json={"decisions": [decision]}
            ),
            409,
        )
        == "already_decided"
    )
    rest = {"tool_call_id": second["tool_call_id"], "approve": False, "args_sha256": second["args_sha256"]}
    done = runs_api.post(f"/runs/{paused['id']}/approvals", token=user.token, json={"decisions": [rest]})
    assert done.get_json()["status"] == "succeeded"
    assert (workspace_root / user.id / "out" / "a.txt").exists()
    assert not (workspace_root / user.id / "out" / "b.txt").exists()


# -- stream and Vercel -----------------------------------------------------------------------


def test_stream_pauses_and_the_continuation_streams(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    agent_id = approval_agent(agents_api, user)
    response = run(runs_api, user, agent_id, WRITE, mode="stream")
    events = read_all(response)
    assert events[-1].event == "run.requires_action"
    paused = events[-1].data["run"]
    assert paused["status"] == "requires_action"
    resumed = read_all(decide(runs_api, user, paused, mode="stream"))
    types = [e.event for e in resumed]
    assert types[0] == "run.resumed" and "tool.result" in types and types[-1] == "run.completed"
    assert int(resumed[0].id or 0) > int(events[-1].id or 0)  # ids continue the run's sequence
    assert written(workspace_root, user) == "hello\n"


def test_vercel_stream_emits_the_tool_approval_chunks(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = approval_agent(agents_api, user)
    raw = runs_api.post(
        "/runs?format=vercel-ai",
        token=user.token,
        json={"agent_id": agent_id, "input": WRITE, "mode": "stream"},
    ).get_data(as_text=True)
    chunks = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    kinds = [c["type"] for c in chunks]
    approval = next(c for c in chunks if c["type"] == "tool-approval-request")
    call = next(c for c in chunks if c["type"] == "tool-input-available")
    assert approval["toolCallId"] == call["toolCallId"] and call["toolName"] == "file_write"
    assert "finish" in kinds
    run_id = next(
        r["id"] for r in runs_api.get("/runs?status=requires_action", token=user.token).get_json()["items"]
    )
    paused = get_run(runs_api, user, run_id)
    denied = decide(runs_api, user, paused, approve=False, mode="stream", query="?format=vercel-ai")
    later = [
        json.loads(line[6:])
        for line in denied.get_data(as_text=True).splitlines()
        if line.startswith("data: {")
    ]
    assert any(c["type"] == "tool-output-denied" for c in later)


# -- async and batches -----------------------------------------------------------------------


def test_async_run_pauses_and_resumes_exactly_once_through_the_worker(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    workspace_root: Path,
) -> None:
    agent_id = approval_agent(agents_api, user)
    queued = run(runs_api, user, agent_id, WRITE, mode="async").get_json()
    assert worker.deliver(queue.run_messages()[0]) == 200
    paused = get_run(runs_api, user, queued["id"])
    assert paused["status"] == "requires_action"
    response = decide(runs_api, user, paused)  # default: the run's own mode (async)
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    message = queue.run_messages()[0]
    for _ in range(3):  # duplicate deliveries of the resume message
        assert worker.deliver(message) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "succeeded", final
    assert written(workspace_root, user) == "hello\n"  # appended once
    types = [e["type"] for e in events_of(runs_api, user, queued["id"])]
    assert types.count("run.resumed") == 1 and types[-1] == "run.completed"


def test_batch_counts_include_paused_runs(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    agent_id = approval_agent(agents_api, user)
    response = runs_api.post(
        "/batches", token=user.token, json={"agent_id": agent_id, "inputs": [WRITE, "say plain", WRITE]}
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    batch = response.get_json()
    for message in queue.run_messages(expected=3):
        assert worker.deliver(message) == 200
    counts = runs_api.get(f"/batches/{batch['id']}", token=user.token).get_json()
    assert counts["counts"]["requires_action"] == 2 and counts["counts"]["succeeded"] == 1
    assert counts["counts"]["queued"] == 0 and counts["status"] == "running"


# -- waiting: list, cancel, sessions, expiry -------------------------------------------------


def test_waiting_runs_are_listed_cancellable_and_hold_their_session(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = approval_agent(agents_api, user)
    session = runs_api.post("/sessions", token=user.token, json={"agent_id": agent_id}).get_json()
    paused = paused_run(runs_api, user, agent_id, session_id=session["id"])
    listed = runs_api.get("/runs?status=requires_action", token=user.token).get_json()["items"]
    assert [r["id"] for r in listed] == [paused["id"]]
    busy = run(runs_api, user, agent_id, "say hi", session_id=session["id"])
    assert error_code(busy, 409) == "session_requires_action"
    streamed = run(runs_api, user, agent_id, "say hi", session_id=session["id"], mode="stream")
    assert error_code(streamed, 409) == "session_requires_action"

    cancelled = runs_api.post(f"/runs/{paused['id']}/cancel", token=user.token)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["required_action"] is None
    assert error_code(decide(runs_api, user, paused), 409) == "run_finished"
    again = run(runs_api, user, agent_id, "say hi", session_id=session["id"])
    assert again.status_code == 200 and again.get_json()["status"] == "succeeded"
    types = [e["type"] for e in events_of(runs_api, user, paused["id"])]
    assert types[-1] == "run.failed"


def test_the_sweep_expires_unanswered_approvals(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Any, pubsub_topology: Any
) -> None:
    from shared.runs.sweep import sweep

    agent_id = approval_agent(agents_api, user)
    session = runs_api.post("/sessions", token=user.token, json={"agent_id": agent_id}).get_json()
    paused = paused_run(runs_api, user, agent_id, session_id=session["id"])
    env(RUN_APPROVAL_TTL_SECONDS="1")
    time.sleep(1.2)
    assert sweep().approvals_expired == 1
    final = get_run(runs_api, user, paused["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "approval_expired"
    assert final["finished_at"] and final["usage"]["requests"] == 1
    assert sweep().approvals_expired == 0
    assert error_code(decide(runs_api, user, paused), 409) == "run_finished"
    assert run(runs_api, user, agent_id, "say free", session_id=session["id"]).status_code == 200


def test_a_session_run_keeps_its_whole_conversation_across_the_pause(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = approval_agent(agents_api, user)
    session = runs_api.post("/sessions", token=user.token, json={"agent_id": agent_id}).get_json()
    paused = paused_run(runs_api, user, agent_id, session_id=session["id"])
    assert decide(runs_api, user, paused).get_json()["status"] == "succeeded"
    from shared.sessions.repository import load_history

    # prompt, tool call, tool result (the approved call's), answer: stored once, in order
    history = load_history(session["id"])
    assert [m.kind for m in history] == ["request", "response", "request", "response"]


# -- large state, delegates, workflows, marketplace ------------------------------------------


def test_a_paused_run_larger_than_a_document_resumes(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    folder = workspace_root / user.id
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("a", "b"):
        (folder / f"{name}.txt").write_text(name * 1_000_000)
    tools = [*APPROVAL_TOOLS, {"name": "file_read", "config": {"max_bytes": 1_048_576}}]
    agent_id = create_agent(agents_api, user, tools=tools)
    prompt = (
        'Read both\ncall file_read {"path": "a.txt"}\ncall file_read {"path": "b.txt"}\n'
        + WRITE.split("\n")[1]
    )
    paused = paused_run(runs_api, user, agent_id, prompt)
    from shared import db
    from shared.runs import repository

    chunks = db.query(repository.run_ref(paused["id"]).collection("conversation"))
    assert sum(len(bytes((c.to_dict() or {})["data"])) for c in chunks) > 2_000_000
    assert len(chunks) >= 3
    final = decide(runs_api, user, paused).get_json()
    assert final["status"] == "succeeded" and final["usage"]["tool_calls"] == 3


def test_delegates_and_workflow_steps_needing_approval_are_refused(
    agents_api: ApiClient, user: TestUser
) -> None:
    delegate = approval_agent(agents_api, user, name="writer")
    response = agents_api.post(
        "/agents",
        token=user.token,
        json={
            "name": "boss",
            "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
            "system_prompt": "Delegate.",
            "delegates": [delegate],
        },
    )
    assert error_code(response, 422) == "validation_error"
    assert "approval" in json.dumps(response.get_json())


def test_an_installed_copy_may_make_tools_stricter_never_looser(
    agents_api: ApiClient, marketplace_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    from tests.test_runs import definition

    agent_id = approval_agent(agents_api, user, name="publisher-scribe", description="Writes notes")
    listing = marketplace_api.post(
        "/marketplace/listings", token=user.token, json={"agent_id": agent_id, "category": "writing"}
    )
    assert listing.status_code == 201, listing.get_data(as_text=True)
    installed = marketplace_api.post(
        f"/marketplace/listings/{listing.get_json()['id']}/install", token=other_user.token
    )
    assert installed.status_code == 201, installed.get_data(as_text=True)
    copy_id = installed.get_json()["id"]

    looser = definition(
        "publisher-scribe", tools=[{"name": "file_write", "config": {"requires_approval": False}}]
    )
    refused = agents_api.put(f"/agents/{copy_id}", token=other_user.token, json=looser)
    assert error_code(refused, 422) == "validation_error"
    assert "approval_required_by_publisher" in refused.get_data(as_text=True)
    stricter = definition(
        "publisher-scribe",
        tools=[*APPROVAL_TOOLS, {"name": "find", "config": {"requires_approval": True}}],
    )
    assert agents_api.put(f"/agents/{copy_id}", token=other_user.token, json=stricter).status_code == 200
    # The publisher's own agent is theirs to change.
    assert agents_api.put(f"/agents/{agent_id}", token=user.token, json=looser).status_code == 200


def test_a_provider_side_tool_cannot_require_approval(agents_api: ApiClient, user: TestUser) -> None:
    from tests.test_runs import definition

    body = definition("searcher", tools=[{"name": "web_search", "config": {"requires_approval": True}}])
    response = agents_api.post("/agents", token=user.token, json=body)
    assert error_code(response, 422) == "validation_error"
    assert "tools[0].config.requires_approval" in response.get_data(as_text=True)
