"""Sessions over HTTP: continuation, readable history, leases (409), chunked large histories."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from tests.conftest import ApiClient, TestUser
from tests.test_runs import create_agent, error_code, iter_events, ok_run, run


def new_session(runs_api: ApiClient, user: TestUser, agent_id: str, title: str | None = "chat") -> str:
    response = runs_api.post("/sessions", token=user.token, json={"agent_id": agent_id, "title": title})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["agent_id"] == agent_id and body["message_count"] == 0 and body["busy"] is False
    return str(body["id"])


def stream_held_run(runs_api: ApiClient, user: TestUser, agent_id: str, session_id: str, gate: str) -> Any:
    """A streaming run in the session that the offline model holds open until ``gate`` opens."""
    return runs_api.post(
        "/runs",
        token=user.token,
        json={
            "agent_id": agent_id,
            "input": f"long\ngate {gate}",
            "mode": "stream",
            "session_id": session_id,
        },
        buffered=False,
    )


def test_session_continues_across_three_runs(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    outputs = [
        ok_run(runs_api, user, agent_id, f"turn {n}", session_id=session_id)["output"] for n in (1, 2, 3)
    ]
    # The offline model counts the user messages it was sent: the history reached it each time.
    for n, output in enumerate(outputs, start=1):
        assert f'Offline reply to "turn {n}"' in output
        assert f"(message {n} of this conversation)" in output
    detail = runs_api.get(f"/sessions/{session_id}", token=user.token).get_json()
    assert detail["session"]["message_count"] == 6
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "turn 1"),
        ("assistant", outputs[0]),
        ("user", "turn 2"),
        ("assistant", outputs[1]),
        ("user", "turn 3"),
        ("assistant", outputs[2]),
    ]
    assert all(m["created_at"] for m in detail["messages"])
    # A run without the session starts afresh.
    assert "(message 1 of" in ok_run(runs_api, user, agent_id, "alone")["output"]


def test_session_history_shows_tool_calls(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "grep", "enabled": True, "config": {}}])
    session_id = new_session(runs_api, user, agent_id)
    ok_run(runs_api, user, agent_id, 'look\ncall grep {"pattern": "x"}', session_id=session_id)
    roles = [
        m["role"] for m in runs_api.get(f"/sessions/{session_id}", token=user.token).get_json()["messages"]
    ]
    assert roles == ["user", "tool_call", "tool", "assistant"]


def test_busy_session_is_409_and_released_after_the_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    from shared.execution.offline import open_gate

    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    gate = uuid.uuid4().hex
    streaming = stream_held_run(runs_api, user, agent_id, session_id, gate)
    events = iter_events(streaming)
    assert next(events).event == "run.started"
    assert next(events).event == "text.delta"

    busy = run(runs_api, user, agent_id, "me too", session_id=session_id)
    assert error_code(busy, 409) == "session_busy"
    assert runs_api.get(f"/sessions/{session_id}", token=user.token).get_json()["session"]["busy"] is True
    assert error_code(runs_api.delete(f"/sessions/{session_id}", token=user.token), 409) == "session_busy"
    # The refused request wrote nothing.
    assert len(runs_api.get("/runs", token=user.token).get_json()["items"]) == 1

    open_gate(gate)
    assert list(events)[-1].event == "run.completed"
    streaming.close()
    after = ok_run(runs_api, user, agent_id, "now", session_id=session_id)
    assert after["status"] == "succeeded" and "(message 2 of" in after["output"]


def test_lease_is_released_when_the_run_fails(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    failed = ok_run(runs_api, user, agent_id, "x\nfail 500", session_id=session_id)
    assert failed["status"] == "failed"
    # The failed turn is not part of the conversation; the next run is not refused.
    ok = ok_run(runs_api, user, agent_id, "again", session_id=session_id)
    assert ok["status"] == "succeeded" and "(message 1 of" in ok["output"]


def test_lease_is_released_when_the_client_disconnects(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    response = stream_held_run(runs_api, user, agent_id, session_id, uuid.uuid4().hex)
    events = iter_events(response)
    next(events)
    next(events)
    response.close()
    assert ok_run(runs_api, user, agent_id, "next", session_id=session_id)["status"] == "succeeded"


def test_sessions_are_private_and_tied_to_their_agent(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    assert error_code(runs_api.get(f"/sessions/{session_id}", token=other_user.token), 404) == "not_found"
    assert error_code(runs_api.delete(f"/sessions/{session_id}", token=other_user.token), 404) == "not_found"
    assert runs_api.get("/sessions", token=other_user.token).get_json()["items"] == []
    # Another user's agent cannot get a session; their own agent cannot use mine.
    theirs = create_agent(agents_api, other_user)
    assert (
        error_code(runs_api.post("/sessions", token=user.token, json={"agent_id": theirs}), 404)
        == "not_found"
    )
    assert error_code(run(runs_api, other_user, theirs, "hi", session_id=session_id), 404) == "not_found"
    # A session belongs to one agent.
    second = create_agent(agents_api, user, "second")
    assert error_code(run(runs_api, user, second, "hi", session_id=session_id), 422) == "validation_error"
    assert error_code(run(runs_api, user, agent_id, "hi", session_id="missing"), 404) == "not_found"


def test_list_and_delete_sessions(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user)
    ids = [new_session(runs_api, user, agent_id, f"s{i}") for i in range(3)]
    page = runs_api.get("/sessions?limit=2", token=user.token).get_json()
    assert [s["id"] for s in page["items"]] == [ids[2], ids[1]]
    rest = runs_api.get(f"/sessions?limit=2&cursor={page['next_cursor']}", token=user.token).get_json()
    assert [s["id"] for s in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    ok_run(runs_api, user, agent_id, "hello", session_id=ids[0])
    assert runs_api.delete(f"/sessions/{ids[0]}", token=user.token).status_code == 204
    assert error_code(runs_api.get(f"/sessions/{ids[0]}", token=user.token), 404) == "not_found"
    assert len(runs_api.get("/sessions", token=user.token).get_json()["items"]) == 2

    from shared import db
    from shared.sessions.repository import CHUNKS, session_ref

    assert db.query(session_ref(ids[0]).collection(CHUNKS)) == []


def _large_history(turns: int, chars_per_turn: int) -> tuple[bytes, int]:
    from pydantic_ai.messages import (
        ModelMessagesTypeAdapter,
        ModelRequest,
        ModelResponse,
        TextPart,
        UserPromptPart,
    )

    messages: list[Any] = []
    for n in range(turns):
        # Random text: it does not compress, so it really spans several chunk documents.
        filler = os.urandom(chars_per_turn // 2).hex()
        messages.append(ModelRequest(parts=[UserPromptPart(content=f"old question {n}: {filler}")]))
        messages.append(ModelResponse(parts=[TextPart(content=f"old answer {n}")]))
    return ModelMessagesTypeAdapter.dump_json(messages), len(messages)


def test_history_larger_than_a_document_still_works(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    from shared.sessions.repository import append_history, load_session

    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    payload, count = _large_history(turns=6, chars_per_turn=400_000)
    assert len(payload) > 2 * 1024 * 1024
    append_history(session_id, payload, count, expected_revision=0)
    stored = load_session(session_id)
    assert stored is not None and stored.chunk_count >= 3

    body = ok_run(runs_api, user, agent_id, "and now?", session_id=session_id)
    assert body["status"] == "succeeded", body
    assert "(message 7 of this conversation)" in body["output"]
    assert body["usage"]["input_tokens"] > 6  # the whole history was sent to the model

    detail = runs_api.get(f"/sessions/{session_id}", token=user.token).get_json()
    assert detail["session"]["message_count"] == count + 2
    contents = [m["content"] for m in detail["messages"]]
    assert contents[1] == "old answer 0" and contents[-2] == "and now?" and contents[-1] == body["output"]


def test_concurrent_appends_never_lose_messages(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    """Two writers that loaded the same revision both append (in order); nothing is overwritten."""
    from shared.sessions.repository import append_history, load_history

    agent_id = create_agent(agents_api, user)
    session_id = new_session(runs_api, user, agent_id)
    first, n1 = _large_history(turns=1, chars_per_turn=10)
    second, n2 = _large_history(turns=2, chars_per_turn=10)
    assert append_history(session_id, first, n1, expected_revision=0) == 1
    assert append_history(session_id, second, n2, expected_revision=0) == 2  # stale revision
    history = load_history(session_id)
    assert len(history) == n1 + n2
    texts = [json.loads(json.dumps(m.parts[0].content)) for m in history]
    assert texts[0].startswith("old question 0") and texts[2].startswith("old question 0")
