"""Replay and fork of runs (issue 20): a run keeps its whole conversation; a replay plays the
recorded model responses and tool results back at $0 with no model call (``ALLOW_MODEL_REQUESTS``
off and a model that fails if called), reports a divergence at the step it happens; a fork
continues from a message with a new model call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker, get_run
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
from tests.test_checkpoints import ModelCalls
from tests.test_runs import create_agent, definition, ok_run, parse_frame

TOOL_PROMPT = 'Save it\ncall file_write {"path": "out/log.txt", "content": "line\\n", "append": true}'
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


def refuse_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on: real model requests are not allowed and building any model fails."""
    from pydantic_ai import models

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a replay must not build a model")

    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", False)
    monkeypatch.setattr("shared.execution.models.model_for", refuse)


def replay(runs_api: ApiClient, user: TestUser, run_id: str, **body: Any) -> Any:
    return runs_api.post(f"/runs/{run_id}/replay", token=user.token, json=body)


def fork(runs_api: ApiClient, user: TestUser, run_id: str, **body: Any) -> Any:
    return runs_api.post(f"/runs/{run_id}/fork", token=user.token, json=body)


def new_version(agents_api: ApiClient, user: TestUser, agent_id: str, **overrides: Any) -> None:
    updated = agents_api.put(f"/agents/{agent_id}", token=user.token, json=definition("helper", **overrides))
    assert updated.status_code == 200, updated.get_data(as_text=True)


def messages_of(runs_api: ApiClient, user: TestUser, run_id: str) -> dict[str, Any]:
    response = runs_api.get(f"/runs/{run_id}/messages", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_run_records_its_whole_conversation(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "file_write", "config": {}}])
    original = ok_run(runs_api, user, agent_id, TOOL_PROMPT)
    page = messages_of(runs_api, user, original["id"])
    assert page["recorded"] is True
    kinds = [m["kind"] for m in page["items"]]
    # prompt, response calling the tool, tool result, the final answer
    assert kinds == ["request", "response", "request", "response"]
    assert page["items"][2]["message"]["parts"][0]["part_kind"] == "tool-return"
    assert page["items"][3]["message"]["parts"][0]["content"] == original["output"]


def test_replay_with_a_tool_call_makes_no_model_request_and_runs_no_tool(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    workspace_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "file_write", "config": {}}])
    original = ok_run(runs_api, user, agent_id, TOOL_PROMPT)
    assert original["status"] == "succeeded" and original["cost_usd"] > 0
    written = next(workspace_root.rglob("out/log.txt"))
    assert written.read_text() == "line\n"

    calls = ModelCalls(monkeypatch)
    refuse_models(monkeypatch)
    response = replay(runs_api, user, original["id"])
    assert response.status_code == 200, response.get_data(as_text=True)
    replayed = response.get_json()
    assert replayed["id"] != original["id"]
    assert replayed["source"] == "replay" and replayed["replay_of"] == original["id"]
    assert replayed["status"] == "succeeded", replayed
    assert replayed["output"] == original["output"]
    assert replayed["cost_usd"] == 0 and replayed["usage"]["requests"] == 0
    report = replayed["replay"]
    assert report["matched"] is True and report["divergence"] is None
    assert report["steps_replayed"] == report["steps_recorded"] == 2
    assert report["tool_results_replayed"] == 1
    assert calls.count == 0
    assert written.read_text() == "line\n"  # the tool did not run again
    # The replay's events show the same tool call as the original's.
    events = runs_api.get(f"/runs/{replayed['id']}/events", token=user.token).get_json()["items"]
    assert [e["data"]["name"] for e in events if e["type"] == "tool.call"] == ["file_write"]


def test_replay_of_structured_output_streams_the_same_output(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_id = create_agent(agents_api, user, output_schema=SCHEMA)
    original = ok_run(runs_api, user, agent_id, 'Plan\noutput {"city": "Oslo", "days": 3}')
    assert original["output"] == {"city": "Oslo", "days": 3}
    refuse_models(monkeypatch)
    response = replay(runs_api, user, original["id"], mode="stream")
    assert response.status_code == 200
    frames = [parse_frame(f) for f in response.get_data(as_text=True).split("\n\n") if f.strip()]
    run = next(f for f in frames if f.event == "run.completed").data["run"]
    assert run["output"] == {"city": "Oslo", "days": 3}
    assert run["replay"]["matched"] is True and run["cost_usd"] == 0


def test_a_replay_on_a_version_without_the_tool_diverges_at_that_step(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "file_write", "config": {}}])
    original = ok_run(runs_api, user, agent_id, TOOL_PROMPT)
    new_version(agents_api, user, agent_id, tools=[{"name": "file_read", "config": {}}])
    response = replay(runs_api, user, original["id"], agent_version=2)
    assert response.status_code == 200, response.get_data(as_text=True)
    replayed = response.get_json()
    assert replayed["status"] == "failed"
    assert replayed["error"]["code"] == "replay_diverged"
    divergence = replayed["replay"]["divergence"]
    assert replayed["replay"]["matched"] is False
    assert divergence["reason"] == "tool_missing"
    assert divergence["step"] == 0 and divergence["message_index"] == 1
    assert divergence["expected"] == "file_write"
    # The same recording replays cleanly on its own version.
    again = replay(runs_api, user, original["id"]).get_json()
    assert again["replay"]["matched"] is True


def test_a_replay_diverges_when_the_instructions_changed(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    original = ok_run(runs_api, user, agent_id, "Hello there")
    new_version(agents_api, user, agent_id, system_prompt="You are terse.")
    replayed = replay(runs_api, user, original["id"], agent_version=2).get_json()
    assert replayed["status"] == "failed", replayed
    assert replayed["replay"]["divergence"]["reason"] == "instructions_changed"
    assert replayed["replay"]["divergence"]["step"] == 0


def test_fork_at_a_message_calls_the_model_again_from_there(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    workspace_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "file_write", "config": {}}])
    original = ok_run(runs_api, user, agent_id, TOOL_PROMPT)
    calls = ModelCalls(monkeypatch)
    # At message 2 (the tool's result): the tool is not run again; one new model call answers.
    response = fork(runs_api, user, original["id"], at=2)
    assert response.status_code == 200, response.get_data(as_text=True)
    forked = response.get_json()
    assert forked["source"] == "fork" and forked["fork_of"] == original["id"] and forked["fork_at"] == 2
    assert forked["status"] == "succeeded"
    assert calls.count == 1 and forked["usage"]["requests"] == 1
    assert next(workspace_root.rglob("out/log.txt")).read_text() == "line\n"
    assert "Tool file_write returned" in forked["output"]
    # At message 0 with a new input: a different instruction from the first step.
    other = fork(runs_api, user, original["id"], at=0, input="say A different answer").get_json()
    assert other["status"] == "succeeded" and other["output"] == "A different answer"
    assert other["input"] == "say A different answer"
    page = messages_of(runs_api, user, other["id"])
    assert page["recorded"] is True and len(page["items"]) == 2
    # A fork is a run like any other: it can be replayed at $0.
    replayed = replay(runs_api, user, forked["id"]).get_json()
    assert replayed["replay"]["matched"] is True, replayed
    assert replayed["output"] == forked["output"] and replayed["cost_usd"] == 0


def test_fork_and_replay_refuse_bad_input_and_write_nothing(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    original = ok_run(runs_api, user, agent_id, "Hello")
    before = runs_api.get("/runs", token=user.token).get_json()["items"]
    assert fork(runs_api, user, original["id"], at=1).status_code == 422  # a response
    assert fork(runs_api, user, original["id"], at=9).status_code == 422
    assert fork(runs_api, user, original["id"], at=-1).status_code == 422
    assert fork(runs_api, user, original["id"], at=0, agent_version=5).status_code == 404
    assert replay(runs_api, other_user, original["id"]).status_code == 404
    assert replay(runs_api, user, "nope").status_code == 404
    assert replay(runs_api, user, original["id"], extra=1).status_code == 422
    assert runs_api.get("/runs", token=user.token).get_json()["items"] == before


def test_async_replay_and_fork_run_on_the_worker(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "file_write", "config": {}}])
    original = ok_run(runs_api, user, agent_id, TOOL_PROMPT)
    calls = ModelCalls(monkeypatch)
    headers = {"Idempotency-Key": "replay-1"}
    first = runs_api.post(
        f"/runs/{original['id']}/replay", token=user.token, json={"mode": "async"}, headers=headers
    )
    assert first.status_code == 202, first.get_data(as_text=True)
    again = runs_api.post(
        f"/runs/{original['id']}/replay", token=user.token, json={"mode": "async"}, headers=headers
    )
    assert again.get_json()["id"] == first.get_json()["id"]
    forked = fork(runs_api, user, original["id"], at=0, input="say forked", mode="async")
    assert forked.status_code == 202, forked.get_data(as_text=True)
    for message in queue.run_messages(expected=2):
        assert worker.deliver(message) in (200, 204)
    replayed = get_run(runs_api, user, first.get_json()["id"])
    assert replayed["status"] == "succeeded" and replayed["replay"]["matched"] is True
    continued = get_run(runs_api, user, forked.get_json()["id"])
    assert continued["status"] == "succeeded" and continued["output"] == "forked"
    assert calls.count == 1  # the fork's one model call; the replay made none
