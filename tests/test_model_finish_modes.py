# ruff: noqa: F811 - the Vertex fixtures come from test_runs_vertex; parameters shadow them
"""Model fidelity (#15) beyond sync and stream: finish reasons and the no-answer errors in async
runs and batches (the run record, ``run.completed`` / ``run.failed`` and the run-results topic),
the ``tool_call`` and ``error`` finish reasons, Gemini's search grounding and ``MAX_TOKENS`` with
no parts, and Gemini / offline runs never importing ``anthropic``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker, events_of, get_run, queue_run
from tests.test_model_fidelity import _run
from tests.test_runs_vertex import CLAUDE, GEMINI, GREP, agent_with, fake, vertex  # noqa: F401 (fixtures)
from tests.vertex_fake import VertexFake
from tools import localstack

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def queue(pubsub_topology: localstack.Topology) -> Queue:
    return Queue(pubsub_topology)


@pytest.fixture
def worker(pubsub_topology: localstack.Topology) -> Worker:
    return Worker(pubsub_topology.run_requests)


def _result_of(queue: Queue, run_id: str) -> dict[str, Any]:
    messages = [m for m in queue.results() if m.attributes["run_id"] == run_id]
    assert len(messages) == 1, messages
    return json.loads(messages[0].data)


# --- async runs and batches -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "step", "status", "code", "reason"),
    [
        (GEMINI, {"text": "The answer was cut", "finish": "length"}, "succeeded", None, "length"),
        (
            CLAUDE,
            {"text": "I can", "finish": "content_filter"},
            "failed",
            "content_filtered",
            "content_filter",
        ),
        (
            GEMINI,
            {"thinking": "long thoughts", "finish": "length", "usage": {"output": 1024, "thoughts": 1024}},
            "failed",
            "output_limit_reached",
            "length",
        ),
    ],
    ids=["gemini-cut", "claude-refusal", "gemini-thinking-ate-the-limit"],
)
def test_async_runs_record_the_finish_reason_everywhere(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    queue: Queue,
    worker: Worker,
    model: dict[str, Any],
    step: dict[str, Any],
    status: str,
    code: str | None,
    reason: str,
) -> None:
    agent_id = agent_with(agents_api, user, model)
    queued = queue_run(runs_api, user, agent_id, "go")
    vertex()
    fake.script([step])
    assert worker.deliver(queue.run_messages()[0]) == 200
    run = get_run(runs_api, user, queued["id"])
    assert run["status"] == status, run
    assert run["finish_reason"] == reason
    assert (run["error"] or {}).get("code") == code
    assert run["usage"]["requests"] == 1 and run["cost_usd"] > 0  # billed either way
    assert len(fake.requests) == 1  # neither is retried
    terminal = events_of(runs_api, user, queued["id"])[-1]
    assert terminal["type"] == ("run.completed" if status == "succeeded" else "run.failed")
    assert terminal["data"]["run"]["finish_reason"] == reason
    published = _result_of(queue, queued["id"])
    assert published["finish_reason"] == reason and published["status"] == status


def test_a_batch_reports_each_runs_finish_reason(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, queue: Queue, worker: Worker
) -> None:
    """The offline model's ``finish`` directive, through the batch fan-out and the worker."""
    from tests.test_batches import create_batch

    agent_id = agent_with(agents_api, user, GEMINI)
    words = "say one two three four five six seven"
    inputs = [f"finish {f}\n{words}" for f in ("stop", "length", "output_limit", "content_filter")]
    batch = create_batch(runs_api, user, {"agent_id": agent_id, "inputs": inputs})
    for message in queue.run_messages(4):
        assert worker.deliver(message) == 200
    done = runs_api.get(f"/batches/{batch['id']}", token=user.token).get_json()
    assert done["status"] == "completed"
    assert done["counts"]["succeeded"] == 2 and done["counts"]["failed"] == 2
    runs = runs_api.get(f"/batches/{batch['id']}/runs", token=user.token).get_json()["items"]
    runs.sort(key=lambda r: r["id"])  # <batch id>-0001 ... in input order
    assert [(r["status"], r["finish_reason"], (r["error"] or {}).get("code"), r["output"]) for r in runs] == [
        ("succeeded", "stop", None, "one two three four five six seven"),
        ("succeeded", "length", None, "one two three four five"),
        ("failed", "length", "output_limit_reached", None),
        ("failed", "content_filter", "content_filtered", None),
    ]


# --- the tool_call and error finish reasons -------------------------------------------------


@pytest.mark.parametrize("model", [GEMINI, CLAUDE], ids=["gemini", "claude"])
def test_a_run_stopped_while_the_model_asks_for_tools_says_tool_call(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    model: dict[str, Any],
) -> None:
    agent_id = agent_with(agents_api, user, model, tools=GREP, limits={"max_tool_calls": 0})
    vertex()
    fake.script([{"tool": "grep", "args": {"pattern": "x"}}])
    run = _run(runs_api, user, agent_id, "sync")
    assert run["status"] == "failed" and run["error"]["code"] == "usage_limit_exceeded", run
    assert run["finish_reason"] == "tool_call"


def test_a_malformed_gemini_function_call_says_error(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, fake: VertexFake, vertex: Callable[[], None]
) -> None:
    agent_id = agent_with(agents_api, user, GEMINI, tools=GREP)
    vertex()
    # Gemini's MALFORMED_FUNCTION_CALL comes with no content; the model is asked again.
    fake.script([{"finish": "MALFORMED_FUNCTION_CALL"}, {"text": "Recovered."}])
    run = _run(runs_api, user, agent_id, "sync")
    assert run["status"] == "succeeded" and run["output"] == "Recovered.", run
    assert run["finish_reason"] == "stop"
    assert run["usage"]["requests"] == 2
    fake.script([{"finish": "MALFORMED_FUNCTION_CALL"}] * 5)
    failed = _run(runs_api, user, agent_id, "sync")
    assert failed["status"] == "failed", failed
    assert failed["finish_reason"] == "error"


# --- Gemini wire details --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_gemini_max_tokens_with_no_parts_is_output_limit_reached(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    mode: str,
) -> None:
    agent_id = agent_with(agents_api, user, GEMINI)
    vertex()
    fake.script([{"finish": "length", "usage": {"output": 0, "thoughts": 1024}}])
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "failed" and run["error"]["code"] == "output_limit_reached", run
    assert "max_tokens 1024" in run["error"]["message"]
    assert run["finish_reason"] == "length" and run["usage"]["thinking_tokens"] == 1024


@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_gemini_search_grounding_metadata_is_accepted(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    fake: VertexFake,
    vertex: Callable[[], None],
    mode: str,
) -> None:
    tools = [{"name": "web_search", "enabled": True, "config": {}}]
    agent_id = agent_with(agents_api, user, GEMINI, tools=tools)
    vertex()
    fake.script([{"text": "Paris is the capital of France.", "grounding": "capital of France"}])
    run = _run(runs_api, user, agent_id, mode)
    assert run["status"] == "succeeded", run
    assert run["output"] == "Paris is the capital of France." and run["finish_reason"] == "stop"
    assert fake.rejections == []
    assert any("googleSearch" in tool or "google_search" in tool for tool in fake.requests[0].body["tools"])


# --- a model retired after the agent was created -------------------------------------------


def test_a_run_of_an_agent_whose_model_was_retired_fails_clearly(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.agents import catalog

    agent_id = agent_with(agents_api, user, GEMINI)
    entries = tuple(
        e.model_copy(update={"enabled": False}) if e.name == GEMINI["name"] else e
        for e in catalog.catalog_entries()
    )
    monkeypatch.setattr(catalog, "_entries", lambda: entries)
    listed = {m["name"]: m for m in agents_api.get("/models").get_json()}
    assert listed[GEMINI["name"]]["retired"] is True and listed[GEMINI["name"]]["available"] is False
    run = _run(runs_api, user, agent_id, "sync")
    assert run["status"] == "failed" and run["error"]["code"] == "model_not_found", run
    assert "retired" in run["error"]["message"] and run["usage"]["requests"] == 0


# --- anthropic stays unimported for Gemini and offline runs ---------------------------------


_NO_ANTHROPIC = """
import asyncio, os, sys
from shared.agents.definition import AgentDefinition
from shared.execution.executor import Execution, ExecutionSpec

async def main():
    for backend in ("offline", "vertex"):
        os.environ["MODEL_BACKEND"] = backend
        from shared.settings import get_settings
        get_settings.cache_clear()
        definition = AgentDefinition.model_validate(
            {"name": "g", "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"}}
        )
        execution = Execution(
            ExecutionSpec(run_id="r-" + backend, owner_id="u", definition=definition, input="say hi there"),
            stream=backend == "vertex",
        )
        async for _ in execution.events():
            pass
        result = execution.result
        assert result is not None and result.status == "succeeded", (backend, result)
    loaded = [m for m in sys.modules if m == "anthropic" or m.startswith("anthropic.")]
    assert not loaded, "anthropic imported"
    print("ok")

asyncio.run(main())
"""


def test_gemini_and_offline_runs_do_not_import_anthropic(fake: VertexFake) -> None:
    fake.script([{"text": "hi there"}])
    env = {
        "PATH": "/usr/bin:/bin",
        "GOOGLE_CLOUD_PROJECT": "demo-noanthropic",
        "VERTEX_BASE_URL": fake.base_url,
        "VERTEX_LOCATION": "us-central1",
    }
    result = subprocess.run(
        [sys.executable, "-c", _NO_ANTHROPIC],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    assert [r.kind for r in fake.requests] == ["streamGenerateContent"]
