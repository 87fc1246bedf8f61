"""The OpenAI-compatible API (issue 18) through the official ``openai`` Python client, against
the real functions behind the gateway (``live_stack``), with a personal access token as the
API key: models, Chat Completions and Responses, streamed and not, structured output,
sessions via previous_response_id / conversation, tool calls as output items, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
import requests
from openai.types.responses.mcp_tool_call_error import McpToolExecutionError

from tests.conftest import LiveStack, TestUser
from tests.openai_shapes import CheckedTransport, check
from tests.test_runs import definition

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["title", "score"],
}


def _api(live: LiveStack, token: str, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, live.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return response


@pytest.fixture
def world(live_stack: LiveStack, make_user: Callable[..., TestUser]) -> dict[str, Any]:
    user = make_user()
    agents = {}
    for name, extra in [
        ("helper", {}),
        ("grepper", {"tools": [{"name": "grep", "enabled": True, "config": {}}]}),
        ("rater", {"output_schema": SCHEMA}),
        ("careful", {"tools": [{"name": "grep", "enabled": True, "config": {"requires_approval": True}}]}),
    ]:
        response = _api(live_stack, user.token, "POST", "/agents", definition(name, **extra))
        assert response.status_code == 201, response.text
        agents[name] = response.json()["id"]
    created = _api(
        live_stack, user.token, "POST", "/auth/tokens", {"name": "openai", "scopes": ["runs"]}
    ).json()
    client = _client(live_stack, created["secret"])
    return {"user": user, "agents": agents, "client": client, "live": live_stack}


def _client(live: LiveStack, api_key: str) -> openai.OpenAI:
    # Every reply the client gets is first checked strictly against the SDK's own types.
    transport = CheckedTransport()
    http_client = httpx.Client(transport=transport, timeout=60)
    return openai.OpenAI(
        base_url=live.base_url + "/v1", api_key=api_key, max_retries=0, http_client=http_client
    )


def _runs(world: dict[str, Any]) -> list[dict[str, Any]]:
    return _api(world["live"], world["user"].token, "GET", "/runs?limit=100").json()["items"]


def test_models_lists_runnable_agents(world: dict[str, Any]) -> None:
    models = world["client"].models.list()
    assert sorted(m.id for m in models.data) == ["careful", "grepper", "helper", "rater"]
    assert all(m.object == "model" and m.owned_by == world["user"].username for m in models.data)
    # A login access token works as the API key too.
    by_login = _client(world["live"], world["user"].token).models.list()
    assert sorted(m.id for m in by_login.data) == ["careful", "grepper", "helper", "rater"]


def test_chat_completion_not_streamed_is_a_normal_run(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    completion = client.chat.completions.create(
        model="helper",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "hello there"},
        ],
    )
    choice = completion.choices[0]
    # The history reached the model: this is the second user message of the conversation.
    assert choice.message.content == 'Offline reply to "hello there". (message 2 of this conversation)'
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert completion.object == "chat.completion" and completion.model == "helper"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    runs = _runs(world)
    assert [r["id"] for r in runs] == [completion.id.removeprefix("chatcmpl-")]
    assert runs[0]["status"] == "succeeded" and runs[0]["output"] == choice.message.content
    assert runs[0]["usage"]["output_tokens"] == completion.usage.completion_tokens
    assert runs[0]["cost_usd"] > 0  # billed like any run


def test_chat_completion_streamed(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    stream = client.chat.completions.create(
        model="helper",
        messages=[{"role": "user", "content": "stream this"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == 'Offline reply to "stream this". (message 1 of this conversation)'
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3  # word by word
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_structured_output_and_response_format(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    completion = client.chat.completions.create(
        model="rater",
        messages=[{"role": "user", "content": 'output {"title": "t", "score": 3}'}],
        response_format={"type": "json_schema", "json_schema": {"name": "rating", "schema": SCHEMA}},
    )
    assert json.loads(completion.choices[0].message.content or "") == {"title": "t", "score": 3}
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="helper",
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_object"},
        )
    assert bad.value.body["param"] == "response_format"  # type: ignore[index]
    response = client.responses.create(
        model="rater",
        input='output {"title": "r", "score": 5}',
        text={"format": {"type": "json_schema", "name": "rating", "schema": SCHEMA}},
    )
    assert json.loads(response.output_text) == {"title": "r", "score": 5}


def test_responses_not_streamed_with_tool_calls_and_previous_response(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    first = client.responses.create(model="grepper", input='call grep {"pattern": "nothing-matches-this"}')
    assert first.status == "completed" and first.object == "response"
    kinds = [item.type for item in first.output]
    assert kinds == ["mcp_call", "message"], kinds
    call: Any = first.output[0]
    assert call.name == "grep" and json.loads(call.arguments) == {"pattern": "nothing-matches-this"}
    assert call.server_label == "agent" and call.output is not None
    assert "Tool grep returned" in first.output_text
    assert first.usage is not None and first.usage.output_tokens > 0
    # Continue the stored conversation.
    second = client.responses.create(model="grepper", input="and now?", previous_response_id=first.id)
    assert second.output_text == 'Offline reply to "and now?". (message 2 of this conversation)'
    assert second.previous_response_id == first.id
    # The conversation is our session: it can be named directly too.
    assert first.conversation is not None and second.conversation is not None
    assert second.conversation.id == first.conversation.id
    third = client.responses.create(model="grepper", input="third", conversation=first.conversation.id)
    assert third.output_text.endswith("(message 3 of this conversation)")
    # store: false keeps nothing to continue from.
    loose = client.responses.create(model="helper", input="loose", store=False)
    assert loose.conversation is None
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="helper", input="again", previous_response_id=loose.id)
    assert len(_runs(world)) == 4


def test_responses_streamed_event_shapes(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    events = list(client.responses.create(model="helper", input="stream me", stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == 'Offline reply to "stream me". (message 1 of this conversation)'
    completed: Any = events[-1]
    assert completed.response.status == "completed"
    assert completed.response.output_text == "".join(deltas)
    # The SDK's stream helper accumulates the same events into the final response.
    with client.responses.stream(model="helper", input="helper stream") as stream:
        final = stream.get_final_response()
    assert final.output_text == 'Offline reply to "helper stream". (message 1 of this conversation)'
    # A tool call streams as an mcp_call item: added, in progress, completed, done.
    events = list(client.responses.create(model="grepper", input='call grep {"pattern": "zz"}', stream=True))
    call_events = [(e.type, getattr(e, "output_index", None)) for e in events]
    call_events = [e for e in call_events if e[1] == 0]
    assert call_events[:4] == [
        ("response.output_item.added", 0),
        ("response.mcp_call.in_progress", 0),
        ("response.mcp_call.completed", 0),
        ("response.output_item.done", 0),
    ], call_events


def test_errors_in_openai_shape(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"
    for kwargs, param in [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"temperature": 0.2}, "temperature"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
            "tools",
        ),
    ]:
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(
                model="helper", messages=[{"role": "user", "content": "x"}], **kwargs
            )
        assert bad.value.code == "unsupported_parameter" and bad.value.param == param
        assert bad.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="helper",
            messages=[
                {"role": "user", "content": "x"},
                {"role": "tool", "content": "r", "tool_call_id": "c1"},
            ],
        )
    assert bad.value.param == "messages[1]"
    for kwargs, param in [
        ({"tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}, "tools"),
        ({"background": True}, "background"),
        ({"max_output_tokens": 50}, "max_output_tokens"),
    ]:
        with pytest.raises(openai.BadRequestError) as bad:
            client.responses.create(model="helper", input="x", **kwargs)
        assert bad.value.code == "unsupported_parameter" and bad.value.param == param
    bad_key = _client(world["live"], "agpat_nope")
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        bad_key.models.list()
    assert unauthorized.value.code == "invalid_api_key"
    assert _runs(world) == []  # nothing refused became a run


def test_finish_reasons_and_failed_runs(world: dict[str, Any]) -> None:
    """The model stopping at its token limit is ``length`` / ``incomplete`` (max_output_tokens),
    a safety block ``content_filter``; a failed run is an error in OpenAI's shape (the SDKs
    raise it), streamed Responses end with ``response.failed``."""
    client: openai.OpenAI = world["client"]
    cut = "finish length\nsay one two three four five six seven"
    chat = client.chat.completions.create(model="helper", messages=[{"role": "user", "content": cut}])
    assert (
        chat.choices[0].finish_reason == "length"
        and chat.choices[0].message.content == "one two three four five"
    )
    response = client.responses.create(model="helper", input=cut, store=False)
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    filtered = client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": "finish content_filter"}]
    )
    assert filtered.choices[0].finish_reason == "content_filter"
    with pytest.raises(openai.InternalServerError) as unavailable:
        client.chat.completions.create(model="helper", messages=[{"role": "user", "content": "fail 503"}])
    assert unavailable.value.status_code == 503 and unavailable.value.code == "model_unavailable"
    events = list(client.responses.create(model="helper", input="fail 503", stream=True, store=False))
    final: Any = events[-1]
    assert final.type == "response.failed" and final.response.status == "failed"
    assert final.response.error is not None and final.response.error.code == "server_error"


def test_a_token_without_the_runs_scope_is_refused(world: dict[str, Any]) -> None:
    live: LiveStack = world["live"]
    created = _api(
        live, world["user"].token, "POST", "/auth/tokens", {"name": "read", "scopes": ["agents:read"]}
    ).json()
    client = _client(live, created["secret"])
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="helper", messages=[{"role": "user", "content": "x"}])
    assert denied.value.code == "insufficient_scope"


def test_a_paused_run_surfaces_as_approval_requests(world: dict[str, Any]) -> None:
    """Approvals apply: a call needing approval pauses the run; Responses shows it as an
    incomplete response with mcp_approval_request items, Chat Completions as a 409."""
    client: openai.OpenAI = world["client"]
    prompt = 'call grep {"pattern": "needs-approval"}'
    paused = client.responses.create(model="careful", input=prompt)
    assert paused.status == "incomplete"
    # OpenAI's incomplete reasons have no "waiting for approval": the request items say why.
    assert paused.incomplete_details is not None and paused.incomplete_details.reason is None
    requests_ = [item for item in paused.output if item.type == "mcp_approval_request"]
    assert len(requests_) == 1
    request: Any = requests_[0]
    assert request.name == "grep" and json.loads(request.arguments) == {"pattern": "needs-approval"}
    run_id = paused.id.removeprefix("resp_")
    run = _api(world["live"], world["user"].token, "GET", f"/runs/{run_id}").json()
    assert run["status"] == "requires_action"
    assert [i["tool_call_id"] for i in run["required_action"]["items"]] == [request.id.removeprefix("mcpr_")]
    streamed = list(client.responses.create(model="careful", input=prompt, stream=True, store=False))
    assert streamed[-1].type == "response.incomplete"
    assert [e.item.type for e in streamed if e.type == "response.output_item.done"] == [
        "mcp_approval_request"
    ]
    with pytest.raises(openai.ConflictError) as conflict:
        client.chat.completions.create(model="careful", messages=[{"role": "user", "content": prompt}])
    assert conflict.value.code == "requires_action"
    # Streamed, the chunks end with an error event the SDK raises.
    chunks = client.chat.completions.create(
        model="careful", messages=[{"role": "user", "content": prompt}], stream=True
    )
    with pytest.raises(openai.APIError) as streamed_conflict:
        list(chunks)
    assert "POST /runs/" in streamed_conflict.value.message


def test_approval_responses_continue_a_paused_response_with_its_history(world: dict[str, Any]) -> None:
    """OpenAI's convention: the paused response's ``mcp_approval_request`` items are answered
    with ``mcp_approval_response`` input items and ``previous_response_id``; the run continues
    (same run, with the history the client sent in the first request) and the approved call
    shows as an ``mcp_call`` naming its approval request. Not streamed and streamed."""
    client: openai.OpenAI = world["client"]
    history: Any = [
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": 'call grep {"pattern": "needs-approval"}'},
    ]
    paused = client.responses.create(model="careful", input=history, store=False)
    assert paused.status == "incomplete"
    request: Any = next(item for item in paused.output if item.type == "mcp_approval_request")
    answer: Any = [{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}]
    done = client.responses.create(model="careful", previous_response_id=paused.id, input=answer)
    assert done.status == "completed" and done.id == paused.id
    assert [item.type for item in done.output] == ["mcp_call", "message"]
    call: Any = done.output[0]
    assert call.approval_request_id == request.id and call.status == "completed"
    assert call.name == "grep" and call.output is not None
    # The model saw both user turns the client sent before the pause.
    assert "(message 2 of this conversation)" in done.output_text, done.output_text
    run = _api(world["live"], world["user"].token, "GET", f"/runs/{paused.id.removeprefix('resp_')}").json()
    assert run["status"] == "succeeded"
    assert [(d["tool_call_id"], d["approve"]) for d in run["approvals"]] == [
        (call.id.removeprefix("mcp_"), True)
    ]
    # Answering again: the run is finished (409 in OpenAI's shape).
    with pytest.raises(openai.ConflictError) as again:
        client.responses.create(model="careful", previous_response_id=paused.id, input=answer)
    assert again.value.code == "run_finished"

    # Streamed, and denied with a reason: the model is told, the call never ran.
    second = client.responses.create(model="careful", input=history[-1:], store=False)
    asked: Any = next(item for item in second.output if item.type == "mcp_approval_request")
    denial: Any = [
        {"type": "mcp_approval_response", "approval_request_id": asked.id, "approve": False, "reason": "no"}
    ]
    events = list(
        client.responses.create(model="careful", previous_response_id=second.id, input=denial, stream=True)
    )
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    final: Any = events[-1]
    denied: Any = final.response.output[0]
    assert denied.type == "mcp_call" and denied.approval_request_id == asked.id
    assert denied.status == "failed" and denied.output is None
    # The SDK's typed error (a tool execution error whose content is what the model was told).
    assert isinstance(denied.error, McpToolExecutionError), denied.error
    [block] = denied.error.content  # type: ignore[misc]
    assert block["type"] == "text" and "denied" in block["text"], block
    assert "Tool grep could not be used." in final.response.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_approval_responses_that_cannot_apply_are_400(world: dict[str, Any]) -> None:
    client: openai.OpenAI = world["client"]
    paused = client.responses.create(model="careful", input='call grep {"pattern": "x"}', store=False)
    request: Any = next(item for item in paused.output if item.type == "mcp_approval_request")
    answer = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"input": [answer]}, "previous_response_id"),
        (
            {"input": [answer, {"role": "user", "content": "hi"}], "previous_response_id": paused.id},
            "input[1]",
        ),
        (
            {"input": [{**answer, "approval_request_id": "mcpr_nope"}], "previous_response_id": paused.id},
            "input[0].approval_request_id",
        ),
        ({"input": [{**answer, "approve": "yes"}], "previous_response_id": paused.id}, "input[0].approve"),
        ({"input": [answer], "previous_response_id": paused.id, "instructions": "x"}, "instructions"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(model="careful", **extra)
        assert refused.value.param == param, (param, refused.value.body)
    # Nothing was decided: the run still waits.
    run = _api(world["live"], world["user"].token, "GET", f"/runs/{paused.id.removeprefix('resp_')}").json()
    assert run["status"] == "requires_action" and run["approvals"] == []


def test_the_shape_check_refuses_drift() -> None:
    """The strict check behind every client above: an object the SDK's types accept passes;
    a string ``mcp_call.error`` (the SDK types an object), an undeclared field or a missing
    required one fails."""
    from openai.types.responses import ResponseOutputItem

    call = {"id": "mcp_1", "type": "mcp_call", "server_label": "agent", "name": "grep", "arguments": "{}"}
    error = {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": "denied"}]}
    check(ResponseOutputItem, json.dumps({**call, "status": "failed", "error": error}))
    for wrong in (
        {**call, "error": "denied"},
        {**call, "store": True},
        {k: v for k, v in call.items() if k != "name"},
    ):
        with pytest.raises(AssertionError):
            check(ResponseOutputItem, json.dumps(wrong))
