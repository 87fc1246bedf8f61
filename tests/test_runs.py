"""The runs function with the offline model, over HTTP against the emulators (issue 5)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser

# -- helpers (also used by the other runs/sessions test modules) -----------------------------


def definition(name: str = "helper", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
        "system_prompt": "You help.",
        "tools": [],
        "limits": {},
    }
    body.update(overrides)
    return body


def create_agent(agents_api: ApiClient, user: TestUser, name: str = "helper", **overrides: Any) -> str:
    response = agents_api.post("/agents", token=user.token, json=definition(name, **overrides))
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def run(runs_api: ApiClient, user: TestUser, agent_id: str, prompt: Any, **extra: Any) -> Any:
    return runs_api.post("/runs", token=user.token, json={"agent_id": agent_id, "input": prompt, **extra})


def ok_run(runs_api: ApiClient, user: TestUser, agent_id: str, prompt: Any, **extra: Any) -> dict[str, Any]:
    response = run(runs_api, user, agent_id, prompt, **extra)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: Any


def parse_frame(text: str) -> SseEvent:
    event_id = event = None
    data_lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data_lines.append(line[6:])
    raw = "\n".join(data_lines)
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError:
        data = raw
    return SseEvent(event_id, event, data)


def iter_events(response: Any) -> Iterator[SseEvent]:
    """SSE events of an unbuffered test response, read as the server produces them."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            if frame.strip():
                yield parse_frame(frame)


def read_all(response: Any) -> list[SseEvent]:
    return [parse_frame(f) for f in response.get_data(as_text=True).split("\n\n") if f.strip()]


def error_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return str(response.get_json()["error"]["code"])


# -- sync runs -------------------------------------------------------------------------------


def test_sync_run_with_a_tool_call(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "grep", "enabled": True, "config": {}}])
    folder = workspace_root / user.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("first line\nTODO: write the report\n")

    body = ok_run(runs_api, user, agent_id, 'Find the todos\ncall grep {"pattern": "TODO"}')

    assert body["status"] == "succeeded", body
    assert body["error"] is None
    assert "Tool grep returned" in body["output"] and "write the report" in body["output"]
    assert body["usage"]["tool_calls"] == 1 and body["usage"]["requests"] == 2
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    assert body["cost_usd"] > 0
    assert body["agent_version"] == 1 and body["mode"] == "sync" and body["attempts"] == 1
    assert body["started_at"] and body["finished_at"]
    fetched = runs_api.get(f"/runs/{body['id']}", token=user.token).get_json()
    assert fetched["status"] == "succeeded" and fetched["output"] == body["output"]

    from shared.runs.events import read_events

    events = read_events(body["id"])
    types = [e.type for e in events]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    call = next(e for e in events if e.type == "tool.call")
    result = next(e for e in events if e.type == "tool.result")
    assert call.data["name"] == "grep" and call.data["args"] == {"pattern": "TODO"}
    assert result.data["tool_call_id"] == call.data["tool_call_id"]
    assert "write the report" in json.dumps(result.data["content"])
    # Deltas were coalesced into few stored events, and they join to the output.
    deltas = [e for e in events if e.type == "text.delta"]
    assert 1 <= len(deltas) < len(body["output"].split())
    assert "".join(e.data["delta"] for e in deltas) == body["output"]
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_image_input_reaches_the_model_as_binary_content(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()
    body = ok_run(
        runs_api,
        user,
        agent_id,
        [
            {"type": "text", "text": "What is in the picture?"},
            {"type": "image", "mime_type": "image/png", "data": image},
        ],
    )
    assert body["status"] == "succeeded"
    assert "I received 1 image(s)" in body["output"]
    # The image is summarised in the API, not echoed back.
    assert body["input"][1] == {"type": "image", "mime_type": "image/png", "size_bytes": len(image) * 3 // 4}


def test_output_schema_success(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    schema = {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "minLength": 3},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["summary", "score", "tags"],
    }
    agent_id = create_agent(agents_api, user, output_schema=schema)
    body = ok_run(
        runs_api, user, agent_id, 'Summarise\noutput {"summary": "fine", "score": 4, "tags": ["a"]}'
    )
    assert body["status"] == "succeeded", body
    assert body["output"] == {"summary": "fine", "score": 4, "tags": ["a"]}
    # Without an explicit output the offline model builds a minimal valid instance.
    default = ok_run(runs_api, user, agent_id, "Summarise")
    assert set(default["output"]) == {"summary", "score", "tags"} and default["output"]["score"] == 1


def test_output_schema_failure_fails_the_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
    agent_id = create_agent(agents_api, user, output_schema=schema)
    body = ok_run(runs_api, user, agent_id, 'Rate it\noutput {"score": "high"}')
    assert body["status"] == "failed"
    assert body["error"]["code"] == "output_validation_failed"
    assert body["output"] is None
    # The model was asked to fix its output before the run gave up.
    assert body["usage"]["requests"] == 3


def test_delegation_runs_the_other_agent_and_counts_its_usage(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    helper = create_agent(agents_api, user, "researcher")
    boss = create_agent(agents_api, user, "boss", delegates=[helper])
    body = ok_run(runs_api, user, boss, 'Plan\ncall delegate_researcher {"input": "dig into caching"}')
    assert body["status"] == "succeeded", body
    assert 'Tool delegate_researcher returned: Offline reply to "dig into caching"' in body["output"]
    # boss: 2 requests, researcher: 1 request — all in the parent run's usage.
    assert body["usage"]["requests"] == 3
    assert body["usage"]["tool_calls"] == 1


def test_delegation_depth_is_limited(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Any
) -> None:
    helper = create_agent(agents_api, user, "researcher")
    boss = create_agent(agents_api, user, "boss", delegates=[helper])
    env(MAX_DELEGATION_DEPTH="0")
    body = ok_run(runs_api, user, boss, 'Plan\ncall delegate_researcher {"input": "x"}')
    # The delegate tool is not offered at depth 0: the call is refused, the researcher never runs.
    assert "Tool delegate_researcher could not be used" in body["output"]
    assert body["usage"]["requests"] == 2 and body["usage"]["tool_calls"] == 0


TOOL_PROMPT = 'Search\ncall grep {"pattern": "x"}'


@pytest.mark.parametrize(
    ("agent_limits", "request_limits", "prompt", "limit"),
    [
        ({"max_requests": 1}, None, TOOL_PROMPT, "max_requests"),
        ({"max_requests": 20}, {"max_requests": 1}, TOOL_PROMPT, "max_requests"),  # the request tightens
        ({"max_requests": 1}, {"max_requests": 20}, TOOL_PROMPT, "max_requests"),  # ... but cannot loosen
        ({"max_tool_calls": 0}, None, TOOL_PROMPT, "max_tool_calls"),
        ({"max_input_tokens": 5}, None, "hello there", "max_input_tokens"),
        ({"max_output_tokens": 2}, None, "hello there", "max_output_tokens"),
        ({"max_total_tokens": 10}, None, "hello there", "max_total_tokens"),
        ({"max_cost_usd": 0.000001}, None, TOOL_PROMPT, "max_cost_usd"),
        ({}, {"max_cost_usd": 0.000001}, TOOL_PROMPT, "max_cost_usd"),
    ],
)
def test_usage_limits_stop_the_run(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    agent_limits: dict[str, Any],
    request_limits: dict[str, Any] | None,
    prompt: str,
    limit: str,
) -> None:
    agent_id = create_agent(
        agents_api, user, limits=agent_limits, tools=[{"name": "grep", "enabled": True, "config": {}}]
    )
    extra = {"limits": request_limits} if request_limits else {}
    body = ok_run(runs_api, user, agent_id, prompt, **extra)
    assert body["status"] == "failed", body
    assert body["error"] == {"code": "usage_limit_exceeded", "message": f"the run reached its {limit} limit"}
    assert body["output"] is None
    assert body["finished_at"] is not None


def test_same_prompt_without_limits_succeeds(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    """The control for the limit cases: the same prompts succeed with the default limits."""
    agent_id = create_agent(agents_api, user, tools=[{"name": "grep", "enabled": True, "config": {}}])
    assert ok_run(runs_api, user, agent_id, TOOL_PROMPT)["status"] == "succeeded"
    assert ok_run(runs_api, user, agent_id, "hello there")["status"] == "succeeded"


def test_timeout_limit(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user, limits={"timeout_seconds": 0.2})
    body = ok_run(runs_api, user, agent_id, "slow one\npause 5")
    assert body["status"] == "failed" and body["error"]["code"] == "run_timeout"


@pytest.mark.parametrize(("status", "code"), [("429", "model_rate_limited"), ("503", "model_unavailable")])
def test_provider_error_fails_the_run_with_a_code(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, status: str, code: str
) -> None:
    agent_id = create_agent(agents_api, user)
    body = ok_run(runs_api, user, agent_id, f"hi\nfail {status}")
    assert body["status"] == "failed"
    assert body["error"]["code"] == code
    assert "scripted" not in body["error"]["message"] and "offline" not in body["error"]["message"]


# -- streaming -------------------------------------------------------------------------------


def test_stream_delivers_events_incrementally(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    from shared.execution.offline import open_gate

    agent_id = create_agent(agents_api, user)
    gate = uuid.uuid4().hex
    response = runs_api.post(
        "/runs",
        token=user.token,
        json={"agent_id": agent_id, "input": f"Tell me a story\ngate {gate}", "mode": "stream"},
        buffered=False,
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    run_id = response.headers["X-Run-Id"]
    events = iter_events(response)
    started = next(events)
    assert started.event == "run.started" and started.data["run"]["status"] == "running"
    first = next(events)
    assert first.event == "text.delta" and first.data["delta"] == "Offline "
    # The model has not finished: it waits on the gate until the test releases it.
    during = runs_api.get(f"/runs/{run_id}", token=user.token).get_json()
    assert during["status"] == "running" and during["output"] is None
    open_gate(gate)
    rest = list(events)
    response.close()
    assert rest[-1].event == "run.completed"
    final = rest[-1].data["run"]
    assert final["status"] == "succeeded"
    text = first.data["delta"] + "".join(e.data["delta"] for e in rest if e.event == "text.delta")
    assert text == final["output"]
    ids = [int(e.id or 0) for e in [started, first, *rest]]
    assert ids == list(range(1, len(ids) + 1))

    # Stored: the deltas are coalesced into fewer writes, and a reader resuming after any
    # sequence number gets exactly the text it has not seen.
    from shared.runs.events import read_events

    stored = read_events(run_id)
    live_deltas = [e for e in [first, *rest] if e.event == "text.delta"]
    stored_deltas = [e for e in stored if e.type == "text.delta"]
    assert len(stored_deltas) < len(live_deltas)
    assert "".join(e.data["delta"] for e in stored_deltas) == final["output"]
    assert [e.type for e in stored][-1] == "run.completed" and stored[-1].id == ids[-1]
    middle = live_deltas[3]
    resumed = read_events(run_id, after=int(middle.id or 0))
    seen = "".join(e.data["delta"] for e in live_deltas[:4])
    assert seen + "".join(e.data["delta"] for e in resumed if e.type == "text.delta") == final["output"]


def test_accept_header_selects_streaming(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "grep", "enabled": True, "config": {}}])
    response = runs_api.post(
        "/runs",
        token=user.token,
        json={"agent_id": agent_id, "input": TOOL_PROMPT},
        headers={"Accept": "text/event-stream"},
    )
    events = read_all(response)
    names = [e.event for e in events]
    assert names[0] == "run.started" and names[-1] == "run.completed"
    assert names.index("tool.call") < names.index("tool.result") < names.index("text.delta")
    assert all(e.id for e in events)
    assert events[-1].data["run"]["mode"] == "stream"


def test_stream_reports_a_failed_run(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user)
    response = run(runs_api, user, agent_id, "x\nfail 500", mode="stream")
    events = read_all(response)
    assert events[-1].event == "run.failed"
    assert events[-1].data["run"]["error"]["code"] == "model_unavailable"


def test_client_disconnect_does_not_leave_the_run_running(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    response = runs_api.post(
        "/runs",
        token=user.token,
        json={"agent_id": agent_id, "input": f"long answer\ngate {uuid.uuid4().hex}", "mode": "stream"},
        buffered=False,
    )
    run_id = response.headers["X-Run-Id"]
    events = iter_events(response)
    assert next(events).event == "run.started"
    assert next(events).event == "text.delta"
    response.close()  # the client goes away; the gate is never opened
    body = runs_api.get(f"/runs/{run_id}", token=user.token).get_json()
    assert body["status"] == "cancelled"
    assert body["error"]["code"] == "client_disconnected"
    assert body["usage"]["requests"] == 1
    assert body["finished_at"] is not None


def test_vercel_ai_format(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    agent_id = create_agent(agents_api, user, tools=[{"name": "grep", "enabled": True, "config": {}}])
    response = runs_api.post(
        "/runs?format=vercel-ai",
        token=user.token,
        json={"agent_id": agent_id, "input": TOOL_PROMPT, "mode": "stream"},
    )
    assert response.status_code == 200
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    chunks = [parse_frame(f).data for f in response.get_data(as_text=True).split("\n\n") if f.strip()]
    kinds = [c["type"] if isinstance(c, dict) else c for c in chunks]
    assert kinds[0] == "start" and kinds[-1] == "[DONE]"
    assert "tool-input-available" in kinds and "tool-output-available" in kinds
    assert "text-delta" in kinds and "finish" in kinds
    text = "".join(c["delta"] for c in chunks if isinstance(c, dict) and c["type"] == "text-delta")
    run_id = response.headers["X-Run-Id"]
    assert runs_api.get(f"/runs/{run_id}", token=user.token).get_json()["output"] == text


# -- records, access, idempotency --------------------------------------------------------------


def test_runs_are_private_to_their_owner(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    body = ok_run(runs_api, user, agent_id, "hi")
    assert error_code(runs_api.get(f"/runs/{body['id']}", token=other_user.token), 404) == "not_found"
    assert runs_api.get("/runs", token=other_user.token).get_json()["items"] == []
    # Someone else's agent cannot be run (and is not revealed).
    assert error_code(run(runs_api, other_user, agent_id, "hi"), 404) == "not_found"
    assert runs_api.get(f"/runs/{body['id']}").status_code == 401


def test_list_runs_filters_and_pages(agents_api: ApiClient, runs_api: ApiClient, user: TestUser) -> None:
    first = create_agent(agents_api, user, "first")
    second = create_agent(agents_api, user, "second")
    ids = [ok_run(runs_api, user, first, f"run {i}")["id"] for i in range(3)]
    failed = ok_run(runs_api, user, second, "x\nfail 500")["id"]
    page = runs_api.get("/runs?limit=2", token=user.token).get_json()
    assert [r["id"] for r in page["items"]] == [failed, ids[2]]
    rest = runs_api.get(f"/runs?limit=2&cursor={page['next_cursor']}", token=user.token).get_json()
    assert [r["id"] for r in rest["items"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None
    by_agent = runs_api.get(f"/runs?agent_id={first}", token=user.token).get_json()["items"]
    assert {r["id"] for r in by_agent} == set(ids)
    by_status = runs_api.get("/runs?status=failed", token=user.token).get_json()["items"]
    assert [r["id"] for r in by_status] == [failed]
    both = runs_api.get(f"/runs?agent_id={first}&status=failed", token=user.token).get_json()["items"]
    assert both == []
    assert error_code(runs_api.get("/runs?status=bogus", token=user.token), 422) == "validation_error"
    assert error_code(runs_api.get("/runs?cursor=notacursor", token=user.token), 400) == "invalid_cursor"


def test_idempotency_key_returns_the_same_run(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    payload = {"agent_id": agent_id, "input": "only once"}
    first = runs_api.post("/runs", token=user.token, json=payload, headers={"Idempotency-Key": "k-1"})
    second = runs_api.post("/runs", token=user.token, json=payload, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    assert first.get_json()["output"] == second.get_json()["output"]
    in_body = runs_api.post("/runs", token=user.token, json={**payload, "idempotency_key": "k-1"})
    assert in_body.get_json()["id"] == first.get_json()["id"]
    assert len(runs_api.get("/runs", token=user.token).get_json()["items"]) == 1
    # The same key for a different request is a conflict, not a silent replay.
    other = runs_api.post(
        "/runs", token=user.token, json={**payload, "input": "different"}, headers={"Idempotency-Key": "k-1"}
    )
    assert error_code(other, 409) == "idempotency_key_reused"
    mismatch = runs_api.post(
        "/runs", token=user.token, json={**payload, "idempotency_key": "a"}, headers={"Idempotency-Key": "b"}
    )
    assert error_code(mismatch, 422) == "validation_error"
    # A streamed retry replays the stored events of the first run.
    stream_payload = {**payload, "mode": "stream", "idempotency_key": "k-2"}
    live = read_all(runs_api.post("/runs", token=user.token, json=stream_payload))
    replay = read_all(runs_api.post("/runs", token=user.token, json=stream_payload))
    assert replay[-1].event == "run.completed"
    assert replay[-1].data["run"]["id"] == live[-1].data["run"]["id"]
    assert (
        "".join(e.data["delta"] for e in replay if e.event == "text.delta") == live[-1].data["run"]["output"]
    )


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"input": "x"}, "agent_id"),
        ({"agent_id": "a", "input": ""}, "input"),
        ({"agent_id": "a", "input": []}, "input"),
        ({"agent_id": "a", "input": [{"type": "image", "mime_type": "image/png", "data": "%%%"}]}, "input"),
        ({"agent_id": "a", "input": "x", "mode": "later"}, "mode"),
        ({"agent_id": "a", "input": "x", "limits": {"max_requests": 0}}, "limits.max_requests"),
        ({"agent_id": "a", "input": "x", "surprise": True}, "surprise"),
    ],
)
def test_invalid_run_requests_are_422_and_write_nothing(
    runs_api: ApiClient, user: TestUser, payload: dict[str, Any], loc: str
) -> None:
    response = runs_api.post("/runs", token=user.token, json=payload)
    assert error_code(response, 422) == "validation_error"
    locs = [f["loc"] for f in response.get_json()["error"]["details"]["fields"]]
    assert any(item.startswith(loc) for item in locs), locs
    assert runs_api.get("/runs", token=user.token).get_json()["items"] == []


def test_async_mode_is_refused_until_the_worker_exists(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    agent_id = create_agent(agents_api, user)
    response = run(runs_api, user, agent_id, "later", mode="async")
    if response.status_code == 202:  # the async issue has landed
        assert response.get_json()["status"] == "queued"
        return
    assert error_code(response, 422) == "validation_error"
    assert response.get_json()["error"]["details"]["fields"][0]["loc"] == "mode"
    assert runs_api.get("/runs", token=user.token).get_json()["items"] == []


def test_unknown_agent_is_404(runs_api: ApiClient, user: TestUser) -> None:
    assert error_code(run(runs_api, user, "nope", "hi"), 404) == "not_found"


def test_runs_emit_opentelemetry_spans_when_enabled(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from shared.execution import telemetry

    agent_id = create_agent(agents_api, user, tools=[{"name": "grep", "enabled": True, "config": {}}])
    assert telemetry.instrumentation_capabilities() == []  # off by default (tests: OTEL_EXPORTER=none)
    env(OTEL_EXPORTER="console")
    telemetry._tracer_provider.cache_clear()  # pyright: ignore[reportPrivateUsage]
    try:
        marker = f"secret-{uuid.uuid4().hex}"
        body = ok_run(runs_api, user, agent_id, f'{marker}\ncall grep {{"pattern": "x"}}')
        assert body["status"] == "succeeded"
        out = capfd.readouterr().out
        assert '"name": "invoke_agent helper"' in out
        assert '"name": "execute_tool grep"' in out
        assert marker not in out  # prompts and outputs are not recorded
    finally:
        telemetry._tracer_provider.cache_clear()  # pyright: ignore[reportPrivateUsage]


def test_sync_and_stream_through_the_gateway(live_stack: Any, make_user: Any) -> None:
    """The real processes behind the local gateway, as `make dev` serves them (curl-style)."""
    import requests

    base = live_stack.base_url
    user = make_user()
    headers = {"Authorization": f"Bearer {user.token}"}
    agent = requests.post(f"{base}/agents", json=definition("live"), headers=headers, timeout=30)
    assert agent.status_code == 201, agent.text
    agent_id = agent.json()["id"]

    sync = requests.post(
        f"{base}/runs", json={"agent_id": agent_id, "input": "ping"}, headers=headers, timeout=60
    )
    assert sync.status_code == 200 and sync.json()["status"] == "succeeded"

    frames: list[SseEvent] = []
    with requests.post(
        f"{base}/runs",
        json={"agent_id": agent_id, "input": "stream please", "mode": "stream"},
        headers=headers,
        stream=True,
        timeout=60,
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        buffer = ""
        for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
            buffer += chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                frames.append(parse_frame(frame))
    assert frames[0].event == "run.started" and frames[-1].event == "run.completed"
    text = "".join(f.data["delta"] for f in frames if f.event == "text.delta")
    assert text == frames[-1].data["run"]["output"] and text.startswith('Offline reply to "stream please"')


def test_a_draft_run_tries_the_unsaved_definition(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, workspace_root: Path
) -> None:
    """The builder's playground (#22): ``draft`` runs an unsaved definition of the agent."""
    agent_id = create_agent(agents_api, user, "drafty")  # saved: no tools
    folder = workspace_root / user.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("TODO: try the draft\n")
    draft = definition("drafty", tools=[{"name": "grep", "enabled": True, "config": {}}])
    prompt = 'Find\ncall grep {"pattern": "TODO"}'
    tried = ok_run(runs_api, user, agent_id, prompt, draft=draft)
    assert tried["status"] == "succeeded" and tried["draft"] is True, tried
    assert tried["usage"]["tool_calls"] == 1 and "try the draft" in tried["output"]
    saved = ok_run(runs_api, user, agent_id, prompt)  # the saved version has no grep
    assert saved["draft"] is False and saved["usage"]["tool_calls"] == 0
    # Streamed too; nothing about the agent changed.
    streamed = run(runs_api, user, agent_id, prompt, draft=draft, mode="stream")
    assert streamed.status_code == 200
    assert re.search(r'"tool_calls": ?1\b', streamed.get_data(as_text=True))
    assert (
        agents_api.get(f"/agents/{agent_id}/versions", token=user.token).get_json()["items"][0]["version"]
        == 1
    )
    # A bad draft: every error under ``draft``; async and sessions are refused; nothing runs.
    bad = run(
        runs_api,
        user,
        agent_id,
        "hi",
        draft=definition("drafty", model={"provider": "vertex-gemini", "name": "nope"}),
    )
    assert bad.status_code == 422
    assert [f["loc"] for f in bad.get_json()["error"]["details"]["fields"]] == ["draft.model.name"]
    queued = run(runs_api, user, agent_id, "hi", draft=draft, mode="async")
    assert queued.status_code == 422 and queued.get_json()["error"]["details"]["fields"][0]["loc"] == "mode"
    runs = runs_api.get(f"/runs?agent_id={agent_id}", token=user.token).get_json()["items"]
    assert len(runs) == 3
