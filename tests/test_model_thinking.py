# ruff: noqa: F811 - the Vertex fixtures come from test_runs_vertex; parameters shadow them
"""Thinking (#15 point 4): ``model.thinking`` reaches each provider in its own form, the default
output-token limit leaves room for it, thoughts never reach the output, and they are counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.fake_gemini import camel_keys
from tests.test_model_fidelity import _run
from tests.test_runs_vertex import agent_with, fake, vertex  # noqa: F401 (fixtures)
from tests.vertex_fake import VertexFake


@pytest.mark.parametrize(
    ("model", "expected_config", "max_tokens"),
    [
        (
            {"provider": "vertex-gemini", "name": "gemini-2.5-flash", "thinking": {"budget_tokens": 2048}},
            {"thinkingBudget": 2048, "includeThoughts": True},
            8192 + 2048,
        ),
        (
            {"provider": "vertex-gemini", "name": "gemini-3.1-pro-preview", "thinking": {"effort": "high"}},
            {"thinkingLevel": "HIGH", "includeThoughts": True},
            8192 + 24576,
        ),
        (
            {"provider": "vertex-gemini", "name": "gemini-2.5-flash", "thinking": {"effort": "off"}},
            {"thinkingBudget": 0},
            8192,
        ),
        # No setting: the model thinks on its own, so the default limit leaves room for it.
        ({"provider": "vertex-gemini", "name": "gemini-2.5-flash"}, None, 8192 + 8192),
    ],
    ids=["gemini-budget", "gemini-level", "gemini-off", "gemini-default"],
)
def test_gemini_thinking_settings_and_thoughts(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
    expected_config: dict[str, Any] | None,
    max_tokens: int,
) -> None:
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.script(
        [{"thinking": "private reasoning", "text": "Answer.", "usage": {"output": 3, "thoughts": 50}}]
    )
    run = _run(runs_api, user, agent_id, "sync")
    assert fake.rejections == []
    assert run["status"] == "succeeded" and run["output"] == "Answer.", (run["error"], run["output"])
    # google-genai sends the thinking config's snake_case names, which protobuf JSON accepts.
    config = camel_keys(fake.requests[0].body["generationConfig"])
    assert config.get("thinkingConfig") == expected_config
    assert config["maxOutputTokens"] == max_tokens
    assert run["usage"]["thinking_tokens"] == 50 and run["usage"]["output_tokens"] == 53
    assert "private" not in str(run["output"])


@pytest.mark.parametrize(
    ("model", "expected_thinking", "max_tokens"),
    [
        (
            {
                "provider": "vertex-anthropic",
                "name": "claude-sonnet-4-5",
                "thinking": {"budget_tokens": 4000},
            },
            {"type": "enabled", "budget_tokens": 4000},
            8192 + 4000,
        ),
        (
            {"provider": "vertex-anthropic", "name": "claude-haiku-4-5", "thinking": {"effort": "low"}},
            {"type": "enabled", "budget_tokens": 2048},
            8192 + 4096,
        ),
        (
            {"provider": "vertex-anthropic", "name": "claude-opus-4-7", "thinking": {"effort": "medium"}},
            {"type": "adaptive"},
            8192 + 10_000,
        ),
    ],
    ids=["claude-budget", "claude-effort-budget", "claude-adaptive"],
)
@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_claude_extended_thinking(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
    expected_thinking: dict[str, Any],
    max_tokens: int,
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.script([{"thinking": "private reasoning", "text": "Answer.", "usage": {"output": 40}}])
    run = _run(runs_api, user, agent_id, mode)
    assert fake.rejections == []
    assert run["status"] == "succeeded" and run["output"] == "Answer.", (run["error"], run["output"])
    sent = fake.requests[0].body
    assert {k: v for k, v in sent["thinking"].items() if k != "block_binding"} == expected_thinking
    assert sent["max_tokens"] == max_tokens
    assert sent["anthropic_version"] == "vertex-2023-10-16"
    # Claude bills thinking inside output_tokens; the whole count is priced.
    assert run["usage"]["output_tokens"] == 40 and run["cost_usd"] > 0
