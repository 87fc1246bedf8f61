# ruff: noqa: F811 - the Vertex fixtures come from test_runs_vertex; parameters shadow them
"""Model fidelity (#15): the exact Vertex wire formats, finish reasons and the no-answer errors.

Runs go through pydantic-ai's real Gemini and Claude models against the wire-format fake
(``tests/vertex_fake.py``), which answers like the recorded real APIs and rejects what they reject.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ApiClient, TestUser
from tests.fake_claude import SDK_VERSION
from tests.test_runs import read_all
from tests.test_runs_vertex import CLAUDE, GEMINI, agent_with, fake, vertex  # noqa: F401 (fixtures)
from tests.vertex_fake import VertexFake

MODELS = pytest.mark.parametrize("model", [GEMINI, CLAUDE], ids=["gemini", "claude"])
MODES = pytest.mark.parametrize("mode", ["sync", "stream"])


def _run(runs_api: ApiClient, user: TestUser, agent_id: str, mode: str, prompt: str = "go") -> dict[str, Any]:
    response = runs_api.post(
        "/runs", token=user.token, json={"agent_id": agent_id, "input": prompt, "mode": mode}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    if mode == "sync":
        return response.get_json()
    events = read_all(response)
    assert events[-1].event in ("run.completed", "run.failed"), events[-1]
    run = events[-1].data["run"]
    assert events[-1].data["run"]["finish_reason"] == run["finish_reason"]
    return run


# --- point 1: the Claude request body -------------------------------------------------------


def test_claude_request_pins_the_vertex_version_and_sends_sampling_settings(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None]
) -> None:
    model = {**CLAUDE, "temperature": 0.3, "max_tokens": 2048}
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.script([{"text": "Fine."}])
    body = _run(runs_api, user, agent_id, "sync")
    assert body["status"] == "succeeded", body
    assert fake.rejections == []
    sent = fake.requests[0].body
    assert sent["anthropic_version"] == "vertex-2023-10-16"
    assert sent["temperature"] == 0.3 and "top_p" not in sent and "top_k" not in sent
    assert sent["max_tokens"] == 2048
    assert "model" not in sent  # Vertex takes the model from the URL
    assert set(sent) <= {"anthropic_version", "max_tokens", "messages", "system", "temperature", "stream"}


def test_the_sdk_default_version_with_sampling_is_rejected_like_the_real_api(fake: VertexFake) -> None:
    """Why the pin exists: the anthropic SDK's own default version refuses temperature."""
    from anthropic import BadRequestError
    from anthropic.lib.vertex import AnthropicVertex

    client = AnthropicVertex(
        region="us-east5",
        project_id="demo-x",
        access_token="t",
        base_url=f"{fake.base_url}/v1",
        max_retries=0,
    )
    with pytest.raises(BadRequestError) as caught:
        client.messages.create(
            model="claude-sonnet-4-5@20250929",
            max_tokens=100,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"temperature": 0.2},
        )
    assert fake.requests[-1].body["anthropic_version"] == SDK_VERSION
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"  # type: ignore[index]
    assert caught.value.response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": fake.rejections[-1][1]["error"]["message"]},
        "request_id": "req_vrtx_fake01",
    }
    assert "temperature" in fake.rejections[-1][1]["error"]["message"]


# --- point 2: finish reasons ----------------------------------------------------------------


@MODELS
@MODES
def test_a_truncated_answer_succeeds_with_finish_reason_length(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.script([{"text": "The answer was cut", "finish": "length"}])
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "succeeded", run
    assert run["output"] == "The answer was cut"
    assert run["finish_reason"] == "length"


@MODELS
def test_a_complete_answer_says_stop_and_structured_output_too(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None],
    model: dict[str, Any],
) -> None:  # fmt: skip
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    agent_id = agent_with(agents_api, user, model, output_schema=schema)
    vertex()
    fake.script([{"tool": "final_result", "args": {"n": 3}}])
    run = _run(runs_api, user, agent_id, "sync")
    assert run["status"] == "succeeded" and run["output"] == {"n": 3}, run
    assert run["finish_reason"] == "stop"


# --- point 3: content_filtered and output_limit_reached -------------------------------------


@pytest.mark.parametrize(
    ("model", "finish"),
    [(GEMINI, "content_filter"), (GEMINI, "armor"), (GEMINI, "blocked"), (CLAUDE, "content_filter")],
    ids=["gemini-safety", "gemini-model-armor", "gemini-prompt-blocked", "claude-refusal"],
)
@MODES
def test_a_safety_block_fails_with_content_filtered(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
    finish: str,
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, model)
    vertex()
    # A Claude refusal can follow some text; it is still no answer.
    fake.script([{"finish": finish, "text": "I can" if model is CLAUDE else ""}])
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "content_filtered"
    assert run["finish_reason"] == "content_filter"
    assert run["output"] is None
    assert run["usage"]["requests"] == 1 and run["usage"]["input_tokens"] == 12  # still recorded
    assert run["cost_usd"] > 0
    assert len(fake.requests) == 1  # not retried: it would be refused again


@MODELS
@MODES
def test_no_answer_within_the_output_limit_fails_with_output_limit_reached(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, {**model, "max_tokens": 1024})
    vertex()
    # The thinking used the whole limit (Gemini 2.5/3 count thoughts against maxOutputTokens).
    fake.script([{"thinking": "Let me think about this at length", "finish": "length",
                  "usage": {"input": 12, "output": 1024, "thoughts": 1024}}])  # fmt: skip
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "output_limit_reached"
    assert "max_tokens 1024" in run["error"]["message"] and "model.max_tokens" in run["error"]["message"]
    assert run["finish_reason"] == "length"
    assert run["usage"]["input_tokens"] == 12 and run["usage"]["output_tokens"] >= 1024
    assert run["cost_usd"] > 0
    assert len(fake.requests) == 1


# --- point 6: the wire formats --------------------------------------------------------------


def test_gemini_stream_bills_the_last_cumulative_usage_and_keeps_thoughts_out_of_the_output(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None]
) -> None:
    agent_id = agent_with(agents_api, user, GEMINI)
    vertex()
    usage = {"input": 30, "output": 9, "thoughts": 40}
    fake.script([{"thinking": "secret plan", "text": "Four words are here", "usage": usage}])
    response = runs_api.post(
        "/runs", token=user.token, json={"agent_id": agent_id, "input": "go", "mode": "stream"}
    )
    events = read_all(response)
    deltas = "".join(e.data["delta"] for e in events if e.event == "text.delta")
    run = events[-1].data["run"]
    assert deltas == run["output"] == "Four words are here"
    assert "secret" not in json.dumps([e.data for e in events])
    # Every chunk repeated usageMetadata (the first overshot); the last chunk's figures count.
    assert run["usage"]["input_tokens"] == 30
    assert run["usage"]["thinking_tokens"] == 40
    assert run["usage"]["output_tokens"] == 9 + 40  # thoughts are billed as output
    from genai_prices import Usage, calc_price

    price = calc_price(
        Usage(input_tokens=30, output_tokens=49), model_ref="gemini-2.5-flash", provider_id="google"
    )
    assert run["cost_usd"] == pytest.approx(float(price.total_price), rel=1e-6)


@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_gemini_parallel_calls_round_trip_ids_and_the_one_signature(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, GEMINI, tools=[{"name": "grep", "enabled": True, "config": {}}])
    vertex()
    calls = [{"name": "grep", "args": {"pattern": "a"}}, {"name": "grep", "args": {"pattern": "b"}}]
    fake.script([{"thinking": "two searches", "tools": calls}, {"text": "Done."}])
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "succeeded" and run["output"] == "Done.", run
    assert run["usage"]["tool_calls"] == 2 and run["finish_reason"] == "stop"
    history = fake.requests[1].body["contents"]
    model_parts = [p for c in history if c["role"] == "model" for p in c["parts"]]
    call_parts = [p for p in model_parts if "functionCall" in p]
    # The ids and the first call's thoughtSignature go back exactly as received.
    assert [p["functionCall"]["id"] for p in call_parts] == ["call-1", "call-2"]
    assert "thoughtSignature" in call_parts[0] and "thoughtSignature" not in call_parts[1]
    responses = [p["functionResponse"] for c in history for p in c["parts"] if "functionResponse" in p]
    assert [r["id"] for r in responses] == ["call-1", "call-2"]


@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_claude_text_before_parallel_tool_calls_with_split_json(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, CLAUDE, tools=[{"name": "grep", "enabled": True, "config": {}}])
    vertex()
    calls = [{"name": "grep", "args": {"pattern": "alpha beta"}}, {"name": "grep", "args": {"pattern": "b"}}]
    fake.script(
        [{"text": "Let me look.", "tools": calls}, {"text": "Found nothing.", "usage": {"input": 50}}]
    )
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "succeeded" and run["output"] == "Found nothing.", run
    assert run["usage"]["tool_calls"] == 2
    # message_delta repeats input_tokens: counted once per request, not twice.
    assert run["usage"]["input_tokens"] == 12 + 50
    second = fake.requests[1].body["messages"]
    uses = [
        b for m in second if isinstance(m["content"], list) for b in m["content"] if b["type"] == "tool_use"
    ]
    assert [u["input"] for u in uses] == [c["args"] for c in calls]
    results = [b["tool_use_id"] for m in second if isinstance(m["content"], list) for b in m["content"]
               if b["type"] == "tool_result"]  # fmt: skip
    assert results == [u["id"] for u in uses] and len(set(results)) == 2
    # The dated model name the reply carries is what gets priced.
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=62, output_tokens=14)
    price = calc_price(usage, model_ref="claude-sonnet-4-5-20250929", provider_id="google")
    assert run["cost_usd"] == pytest.approx(float(price.total_price), rel=1e-6)


@MODELS
def test_an_unknown_model_is_model_not_found_with_the_real_error_bodies(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None],
    model: dict[str, Any],
) -> None:  # fmt: skip
    agent_id = agent_with(agents_api, user, model)
    vertex()
    fake.models.clear()  # this project has no access to any model
    run = _run(runs_api, user, agent_id, "sync")
    assert run["status"] == "failed" and run["error"]["code"] == "model_not_found", run
    assert run["finish_reason"] is None
    path = "/v1/projects/p/locations/l/publishers/anthropic/models/claude-x:rawPredict"
    reply = httpx.post(fake.base_url + path, json={"anthropic_version": "vertex-2023-10-16"})
    assert reply.status_code == 404
    assert reply.json()["type"] == "error" and reply.json()["error"]["type"] == "not_found_error"
    assert reply.json()["request_id"]
    gemini = "/v1beta1/projects/p/locations/l/publishers/google/models/g:generateContent"
    reply = httpx.post(fake.base_url + gemini,
                       json={"contents": []})  # fmt: skip
    assert reply.status_code == 404
    assert reply.json()["error"]["status"] == "NOT_FOUND" and reply.json()["error"]["code"] == 404


def test_the_fake_rejects_what_gemini_rejects(fake: VertexFake) -> None:
    url = fake.base_url + "/v1beta1/projects/p/locations/l/publishers/google/models/{}:generateContent"
    cases = [
        ("gemini-2.5-flash", {"contents": [], "generationConfig": {"maxTokens": 5}}),
        ("gemini-2.5-flash", {"contents": [], "bogus": 1}),
        (
            "gemini-2.0-flash",
            {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": 512}}},
        ),
        ("gemini-2.5-pro", {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}),
        (
            "gemini-2.5-flash",
            {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}}},
        ),
    ]
    for model, body in cases:
        reply = httpx.post(url.format(model), json=body)
        assert reply.status_code == 400, (model, body)
        assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fake.steps == type(fake.steps)()  # nothing scripted was consumed


# --- the offline model's finish directive (docs/offline-model.md) ---------------------------


@pytest.mark.parametrize(
    ("finish", "status", "code", "reason"),
    [
        ("length", "succeeded", None, "length"),
        ("output_limit", "failed", "output_limit_reached", "length"),
        ("content_filter", "failed", "content_filtered", "content_filter"),
        ("stop", "succeeded", None, "stop"),
    ],
)
@MODES
def test_the_offline_model_produces_each_finish_reason(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, finish: str, status: str, code: str | None,
    reason: str, mode: str,
) -> None:  # fmt: skip
    agent_id = agent_with(agents_api, user, GEMINI)
    run = _run(runs_api, user, agent_id, mode, f"finish {finish}\nsay one two three four five six seven")
    assert run["status"] == status, run
    assert run["finish_reason"] == reason
    assert (run["error"] or {}).get("code") == code
    if finish == "length":
        assert run["output"] == "one two three four five"
    if status == "failed":
        assert run["output"] is None and run["usage"]["requests"] == 1


def test_the_fake_rejects_what_claude_rejects(fake: VertexFake) -> None:
    url = fake.base_url + "/v1/projects/p/locations/l/publishers/anthropic/models/{}:rawPredict"
    base = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 64, "messages": []}
    cases = [
        ("claude-sonnet-4-5@20250929", {**base, "bogus": 1}, "bogus"),
        ("claude-sonnet-4-5@20250929", {**base, "model": "claude-sonnet-4-5"}, "model"),
        ("claude-sonnet-4-5@20250929", {**base, "temperature": 0.5, "top_p": 0.9}, "top_p"),
        ("claude-opus-4-7", {**base, "temperature": 0.5}, "temperature"),
        (
            "claude-sonnet-4-5@20250929",
            {**base, "thinking": {"type": "enabled", "budget_tokens": 64}},
            "budget",
        ),
    ]
    for model, body, needle in cases:
        reply = httpx.post(url.format(model), json=body)
        assert reply.status_code == 400, (model, body)
        error = reply.json()
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert needle in error["error"]["message"] and error["request_id"]
    assert fake.steps == type(fake.steps)()
