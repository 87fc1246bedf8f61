"""The real Vertex path: pydantic-ai's Gemini and Claude models against the wire-format fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_runs import create_agent, ok_run, read_all
from tests.vertex_fake import VertexFake, start_vertex_fake

GEMINI = {"provider": "vertex-gemini", "name": "gemini-2.5-flash", "max_tokens": 1024}
CLAUDE = {"provider": "vertex-anthropic", "name": "claude-sonnet-4-5"}
GREP = [{"name": "grep", "enabled": True, "config": {}}]


@pytest.fixture
def fake() -> Iterator[VertexFake]:
    server = start_vertex_fake()
    yield server
    server.close()


@pytest.fixture
def vertex(fake: VertexFake, env: Callable[..., None]) -> Iterator[Callable[[], None]]:
    """Switch the functions to the Vertex backend, pointed at the fake (call after creating agents)."""
    from pydantic_ai import models

    def switch() -> None:
        env(
            MODEL_BACKEND="vertex",
            VERTEX_BASE_URL=fake.base_url,
            ANTHROPIC_VERTEX_BASE_URL=f"{fake.base_url}/v1",
            MODEL_MAX_RETRIES="2",
            MODEL_RETRY_INITIAL_DELAY_SECONDS="0.01",
        )

    # conftest forbids real model requests; these go to the local fake only.
    with models.override_allow_model_requests(True):
        yield switch


def agent_with(agents_api: ApiClient, user: TestUser, model: dict[str, Any], **overrides: Any) -> str:
    # Agents are created (and validated) with the offline catalog, before switching backends.
    return create_agent(agents_api, user, model=model, **overrides)


def test_gemini_sync_run_with_a_tool_round_trip(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None]
) -> None:
    agent_id = agent_with(agents_api, user, GEMINI, tools=GREP)
    vertex()
    fake.script([{"tool": "grep", "args": {"pattern": "TODO"}}, {"text": "No TODOs found."}])
    body = ok_run(runs_api, user, agent_id, "Any todos?")
    assert body["status"] == "succeeded", body
    assert body["output"] == "No TODOs found."
    assert body["usage"] == {
        "requests": 2,
        "input_tokens": 24,
        "output_tokens": 14,
        "tool_calls": 1,
        "thinking_tokens": 0,
    }
    assert body["finish_reason"] == "stop"
    assert body["cost_usd"] > 0
    first, second = fake.requests
    assert first.kind == second.kind == "generateContent"
    assert "/projects/demo-" in first.path and "/models/gemini-2.5-flash:" in first.path
    assert first.headers["Authorization"].startswith("Bearer ")
    assert first.body["generationConfig"]["maxOutputTokens"] == 1024
    assert first.body["systemInstruction"]["parts"][0]["text"] == "You help."
    declared = [f["name"] for t in first.body["tools"] for f in t.get("functionDeclarations", [])]
    assert declared == ["grep"]
    # The tool's result went back to the model in the second request.
    response_parts = [p for c in second.body["contents"] for p in c["parts"] if "functionResponse" in p]
    assert response_parts and response_parts[0]["functionResponse"]["name"] == "grep"


def test_claude_sync_run_with_a_tool_round_trip(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None]
) -> None:
    agent_id = agent_with(agents_api, user, CLAUDE, tools=GREP)
    vertex()
    fake.script([{"tool": "grep", "args": {"pattern": "TODO"}}, {"text": "Nothing to do."}])
    body = ok_run(runs_api, user, agent_id, "Any todos?")
    assert body["status"] == "succeeded", body
    assert body["output"] == "Nothing to do."
    assert body["usage"]["requests"] == 2 and body["usage"]["tool_calls"] == 1
    first, second = fake.requests
    assert first.kind == second.kind == "rawPredict"
    assert "/publishers/anthropic/models/claude-sonnet-4-5@20250929:" in first.path
    # max_tokens is always sent (below the size that would force Claude to stream).
    assert 0 < first.body["max_tokens"] <= 21_333
    assert [t["name"] for t in first.body["tools"]] == ["grep"]
    results = [
        block
        for message in second.body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert results and results[0]["tool_use_id"] == "toolu_vrtx_01fake"


@pytest.mark.parametrize("model", [GEMINI, CLAUDE], ids=["gemini", "claude"])
def test_streamed_text_run(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
) -> None:
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.script([{"text": "Streaming works one word at a time"}])
    events = read_all(
        runs_api.post("/runs", token=user.token, json={"agent_id": agent_id, "input": "go", "mode": "stream"})
    )
    deltas = [e.data["delta"] for e in events if e.event == "text.delta"]
    assert len(deltas) == 7
    assert "".join(deltas) == "Streaming works one word at a time"
    assert events[-1].event == "run.completed"
    assert events[-1].data["run"]["output"] == "Streaming works one word at a time"
    assert fake.requests[0].kind in ("streamGenerateContent", "streamRawPredict")


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        (GEMINI, 429, "model_rate_limited"),
        (GEMINI, 500, "model_unavailable"),
        (CLAUDE, 429, "model_rate_limited"),
        (CLAUDE, 500, "model_unavailable"),
    ],
    ids=["gemini-429", "gemini-500", "claude-429", "claude-500"],
)
def test_provider_errors_are_retried_then_fail_the_run(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
    status: int,
    code: str,
) -> None:
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.script([{"status": status}] * 3)
    body = ok_run(runs_api, user, agent_id, "hi")
    assert body["status"] == "failed"
    assert body["error"]["code"] == code
    assert "scripted" not in body["error"]["message"]
    assert len(fake.requests) == 3  # 1 attempt + MODEL_MAX_RETRIES=2


def test_a_transient_error_is_retried_to_success(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None]
) -> None:
    agent_id = agent_with(agents_api, user, GEMINI)
    vertex()
    fake.script([{"status": 503}, {"text": "Recovered."}])
    body = ok_run(runs_api, user, agent_id, "hi")
    assert body["status"] == "succeeded" and body["output"] == "Recovered."
    assert len(fake.requests) == 2 and body["usage"]["requests"] == 1
