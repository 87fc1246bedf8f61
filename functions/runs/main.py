"""The `runs` Cloud Function: /runs, /sessions, /batches (see API.md)."""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from shared.evals import datasets
from shared.evals import service as evals
from shared.evals.datasets import (
    DatasetListQuery,
    EvalDatasetCreate,
    EvalDatasetImport,
    EvalDatasetPage,
    EvalDatasetPublic,
    EvalDatasetUpdate,
)
from shared.evals.schemas import (
    EvalComparison,
    EvalCreate,
    EvalListQuery,
    EvalPage,
    EvalPublic,
    EvalResultPage,
    EvalResultsQuery,
)
from shared.health import HealthReport, health_report
from shared.openai_compat.schemas import ChatCompletionCreate, ModelList, ResponseCreate
from shared.runs import batches, cancel, events_api, runner, service
from shared.runs.approvals import ApprovalsCreate
from shared.runs.batches import BatchCreate, BatchPublic, BatchRunsQuery
from shared.runs.events_api import RunEventPage, RunEventsQuery
from shared.runs.schemas import (
    RunCreate,
    RunForkCreate,
    RunListQuery,
    RunMessagePage,
    RunPage,
    RunPublic,
    RunReplayCreate,
    RunStreamQuery,
)
from shared.sessions import service as sessions
from shared.sessions.schemas import SessionCreate, SessionDetail, SessionListQuery, SessionPage, SessionPublic
from shared.web import Reply, RequestContext, Router, serve, sse_response

router = Router(
    "runs",
    (
        "/runs",
        "/sessions",
        "/batches",
        "/eval-datasets",
        "/evals",
        "/v1",
        "/ag-ui",
        "/mcp",
        "/a2a",
        "/.well-known",
    ),
)


@router.route("GET", "/runs/health", auth="public", response=HealthReport)
def health(ctx: RequestContext) -> dict[str, object]:
    """Which backends this function reaches (503 when one is down)."""
    return health_report("runs", ("firestore", "pubsub"))


@router.route(
    "POST",
    "/runs",
    body=RunCreate,
    query=RunStreamQuery,
    response=RunPublic,
    streams=True,
    errors=(404, 409, 429),
    extra_responses={202: "Accepted (async run queued)"},
    headers=("Idempotency-Key",),
    scope="runs",
)
def create_run(ctx: RequestContext) -> Reply | flask.Response:
    """Run an agent: `sync` → the finished run; `stream` (or `Accept: text/event-stream`) → SSE
    events (`?format=vercel-ai` for the Vercel AI SDK stream); `async` → 202 queued run."""
    body: RunCreate = ctx.body
    if body.mode == "sync" and ctx.wants_event_stream():
        body = body.model_copy(update={"mode": "stream"})
    started = service.start_run(ctx.principal, body, header_key=ctx.idempotency_key)
    headers = {"Location": f"/runs/{started.record.id}", "X-Run-Id": started.record.id}
    if started.record.mode == "async":
        return Reply(started.record.public(), status=202, headers=headers)
    if body.mode != "stream":
        return Reply(service.run_sync(started), status=200, headers=headers)
    return _stream(ctx, started, headers)


def _stream(
    ctx: RequestContext, started: service.StartedRun, headers: dict[str, str], *, resume: bool = False
) -> flask.Response:
    from shared.runs import streaming

    if not started.created:
        # An idempotent retry: replay what the first request's run has stored so far.
        from shared.runs.events import read_events

        return sse_response(streaming.replay_frames(read_events(started.record.id)), headers)
    items = runner.execute_run(
        started.record,
        definition=started.definition,
        session_revision=started.session_revision,
        event_start=None if resume else 0,
        resume=resume,
    )
    if ctx.query.format == "vercel-ai":
        frames = streaming.closing(streaming.drive(streaming.vercel_frames(items)))
        return sse_response(frames, {**headers, **streaming.VERCEL_HEADERS})
    return sse_response(streaming.sse_frames(streaming.drive(items)), headers)


@router.route("GET", "/runs", query=RunListQuery, response=RunPage, scope="runs")
def list_runs(ctx: RequestContext) -> RunPage:
    """My runs, newest first; filter by `agent_id` and `status` (cursor-paginated)."""
    q: RunListQuery = ctx.query
    return service.list_mine(
        ctx.principal, agent_id=q.agent_id, status=q.status, limit=q.limit, cursor=q.cursor
    )


@router.route("GET", "/runs/{run_id}", response=RunPublic, errors=(404,), scope="runs")
def get_run(ctx: RequestContext) -> RunPublic:
    """One of my runs."""
    return service.get(ctx.principal, ctx.params["run_id"])


@router.route(
    "GET",
    "/runs/{run_id}/artifacts/{path:path}",
    errors=(404, 422),
    response_media_type="application/octet-stream",
    scope="runs",
)
def get_run_artifact(ctx: RequestContext) -> flask.Response:
    """A file the run wrote, as it was when the run ended (see the run's `artifacts`)."""
    from shared.runs.artifacts import download
    from shared.workspace.transfer import file_response

    data, artifact = download(ctx.principal, ctx.params["run_id"], ctx.params["path"])
    return file_response(data, str(artifact["path"]), str(artifact["sha256"]))


@router.route("POST", "/runs/{run_id}/cancel", response=RunPublic, errors=(404, 409), scope="runs")
def cancel_run(ctx: RequestContext) -> RunPublic:
    """Cancel one of my runs: a queued run ends `cancelled` at once; a running one stops at its
    next model/tool step (poll the run or its events); a finished run → 409."""
    return cancel.cancel_run(ctx.principal, ctx.params["run_id"])


@router.route(
    "POST",
    "/runs/{run_id}/replay",
    body=RunReplayCreate,
    query=RunStreamQuery,
    response=RunPublic,
    streams=True,
    errors=(404, 409, 429),
    extra_responses={202: "Accepted (async replay queued)"},
    headers=("Idempotency-Key",),
    scope="runs",
)
def replay_run(ctx: RequestContext) -> Reply | flask.Response:
    """Re-play an ended run's recorded model responses and tool results through the same code
    path at $0 (no model call, no tool runs): a new run (`source: "replay"`, `replay_of`) whose
    `replay` report says whether everything matched, else the step where it diverged."""
    from shared.runs import forks

    started = forks.start_replay(ctx.principal, ctx.params["run_id"], ctx.body, ctx.idempotency_key)
    return _derived(ctx, started)


@router.route(
    "POST",
    "/runs/{run_id}/fork",
    body=RunForkCreate,
    query=RunStreamQuery,
    response=RunPublic,
    streams=True,
    errors=(404, 409, 429),
    extra_responses={202: "Accepted (async fork queued)"},
    headers=("Idempotency-Key",),
    scope="runs",
)
def fork_run(ctx: RequestContext) -> Reply | flask.Response:
    """Continue an ended run's conversation from message `at` with a new model call (a new run,
    `source: "fork"`): optionally a different `input` for that request, or another version."""
    from shared.runs import forks

    started = forks.start_fork(ctx.principal, ctx.params["run_id"], ctx.body, ctx.idempotency_key)
    return _derived(ctx, started)


def _derived(ctx: RequestContext, started: service.StartedRun) -> Reply | flask.Response:
    """Answer a replay/fork in its mode, as POST /runs does."""
    headers = {"Location": f"/runs/{started.record.id}", "X-Run-Id": started.record.id}
    if started.record.mode == "async":
        return Reply(started.record.public(), status=202, headers=headers)
    if started.record.mode == "sync" and not ctx.wants_event_stream():
        return Reply(service.run_sync(started), status=200, headers=headers)
    return _stream(ctx, started, headers)


@router.route("GET", "/runs/{run_id}/messages", response=RunMessagePage, errors=(404,), scope="runs")
def run_messages(ctx: RequestContext) -> RunMessagePage:
    """The run's recorded conversation (pydantic-ai message JSON, with the index `fork` takes)."""
    from shared.runs import forks

    return forks.list_messages(ctx.principal, ctx.params["run_id"])


@router.route(
    "POST",
    "/runs/{run_id}/approvals",
    body=ApprovalsCreate,
    query=RunStreamQuery,
    response=RunPublic,
    streams=True,
    errors=(404, 409, 422),
    extra_responses={202: "Accepted (the continuation is queued: `mode: async`)"},
    scope="runs",
    headers=("Idempotency-Key",),
)
def decide_approvals(ctx: RequestContext) -> Reply | flask.Response:
    """Approve or deny the tool calls a `requires_action` run waits for (each with the
    `args_sha256` shown). When none is left open the run resumes in `mode` (default: its own):
    `sync` → the finished or next-paused run, `stream` → SSE (`?format=vercel-ai` too),
    `async` → 202 queued. Otherwise 200 with the run still waiting."""
    from shared import aio
    from shared.runs import approvals

    run_id = ctx.params["run_id"]
    body: approvals.ApprovalsCreate = ctx.body
    decided = approvals.decide(ctx.principal, run_id, body, ctx.idempotency_key)
    aio.run(approvals.record_decisions(decided))
    headers = {"Location": f"/runs/{run_id}", "X-Run-Id": run_id}
    record = decided.record
    if not decided.resumed:
        return Reply(record.public(), status=202 if decided.replay and record.status == "queued" else 200)
    if decided.mode == "async":
        return Reply(approvals.queue_resumed(record).public(), status=202, headers=headers)
    revision = approvals.hold_session(record)
    started = service.StartedRun(record, True, None, revision)
    if decided.mode == "sync" and not ctx.wants_event_stream():
        return Reply(service.run_sync(started, resume=True), status=200, headers=headers)
    return _stream(ctx, started, headers, resume=True)


@router.route(
    "GET",
    "/runs/{run_id}/events",
    query=RunEventsQuery,
    response=RunEventPage,
    streams=True,
    errors=(400, 404),
    headers=("Last-Event-ID",),
    scope="runs",
)
def run_events(ctx: RequestContext) -> RunEventPage | flask.Response:
    """The run's events so far (`{items, next_cursor}`), or with `Accept: text/event-stream` an SSE
    stream that follows the run live until it ends (resume with `Last-Event-ID`)."""
    run_id = ctx.params["run_id"]
    if ctx.wants_event_stream():
        frames = events_api.follow_events(ctx.principal, run_id, ctx.header("Last-Event-ID"))
        return sse_response(frames, {"X-Run-Id": run_id})
    q: RunEventsQuery = ctx.query
    return events_api.list_events(ctx.principal, run_id, limit=q.limit, cursor=q.cursor)


@router.route(
    "POST",
    "/batches",
    body=BatchCreate,
    response=BatchPublic,
    status=202,
    errors=(404, 409, 429),
    headers=("Idempotency-Key",),
    scope="runs",
)
def create_batch(ctx: RequestContext) -> Reply:
    """Run an agent once per input (1 to 1000) asynchronously; watch `GET /batches/{id}`."""
    batch = batches.create_batch(ctx.principal, ctx.body, header_key=ctx.idempotency_key)
    return Reply(batch, status=202, headers={"Location": f"/batches/{batch.id}"})


@router.route("GET", "/batches/{batch_id}", response=BatchPublic, errors=(404,), scope="runs")
def get_batch(ctx: RequestContext) -> BatchPublic:
    """One of my batches with live counts per run status, overall status and total cost."""
    return batches.get_batch(ctx.principal, ctx.params["batch_id"])


@router.route(
    "GET", "/batches/{batch_id}/runs", query=BatchRunsQuery, response=RunPage, errors=(400, 404), scope="runs"
)
def list_batch_runs(ctx: RequestContext) -> RunPage:
    """The batch's runs in input order (cursor-paginated)."""
    q: BatchRunsQuery = ctx.query
    return batches.list_batch_runs(ctx.principal, ctx.params["batch_id"], limit=q.limit, cursor=q.cursor)


@router.route(
    "POST", "/sessions", body=SessionCreate, response=SessionPublic, status=201, errors=(404,), scope="runs"
)
def create_session(ctx: RequestContext) -> Reply:
    """Start a conversation with an agent; pass its id as `session_id` in runs."""
    session = sessions.create(ctx.principal, ctx.body)
    return Reply(session, status=201, headers={"Location": f"/sessions/{session.id}"})


@router.route("GET", "/sessions", query=SessionListQuery, response=SessionPage, scope="runs")
def list_sessions(ctx: RequestContext) -> SessionPage:
    """My sessions, newest first (cursor-paginated)."""
    q: SessionListQuery = ctx.query
    return sessions.list_mine(ctx.principal, agent_id=q.agent_id, limit=q.limit, cursor=q.cursor)


@router.route("GET", "/sessions/{session_id}", response=SessionDetail, errors=(404,), scope="runs")
def get_session(ctx: RequestContext) -> SessionDetail:
    """A session with its conversation as readable messages."""
    return sessions.detail(ctx.principal, ctx.params["session_id"])


@router.route("DELETE", "/sessions/{session_id}", status=204, errors=(404, 409), scope="runs")
def delete_session(ctx: RequestContext) -> None:
    """Delete a session and its history (409 while a run is using it)."""
    sessions.delete(ctx.principal, ctx.params["session_id"])


@router.route(
    "POST", "/eval-datasets", body=EvalDatasetCreate, response=EvalDatasetPublic, status=201, scope="runs"
)
def create_dataset(ctx: RequestContext) -> Reply:
    """Create an eval dataset: cases (input, expected output, evaluators) and evaluators for all."""
    dataset = datasets.create(ctx.principal, ctx.body)
    return Reply(dataset, status=201, headers={"Location": f"/eval-datasets/{dataset.id}"})


@router.route(
    "POST",
    "/eval-datasets/import",
    body=EvalDatasetImport,
    response=EvalDatasetPublic,
    status=201,
    scope="runs",
)
def import_dataset(ctx: RequestContext) -> Reply:
    """Create a dataset from a pydantic-evals dataset file (YAML or JSON text in `content`)."""
    dataset = datasets.import_dataset(ctx.principal, ctx.body)
    return Reply(dataset, status=201, headers={"Location": f"/eval-datasets/{dataset.id}"})


@router.route("GET", "/eval-datasets", query=DatasetListQuery, response=EvalDatasetPage, scope="runs")
def list_datasets(ctx: RequestContext) -> EvalDatasetPage:
    """My eval datasets (without their cases), newest first."""
    return datasets.list_mine(ctx.principal, limit=ctx.query.limit, cursor=ctx.query.cursor)


@router.route(
    "GET",
    "/eval-datasets/{dataset_id}",
    auth="optional",
    response=EvalDatasetPublic,
    errors=(404,),
    scope="runs",
)
def get_dataset(ctx: RequestContext) -> EvalDatasetPublic:
    """One of my datasets, or a public one (attached to a marketplace listing)."""
    return datasets.readable(ctx.principal_or_none, ctx.params["dataset_id"]).as_public()


@router.route(
    "GET",
    "/eval-datasets/{dataset_id}/export",
    auth="optional",
    response=dict[str, Any],
    errors=(404,),
    scope="runs",
)
def export_dataset(ctx: RequestContext) -> dict[str, Any]:
    """The dataset as a pydantic-evals dataset file (JSON; `Dataset.from_file` reads it)."""
    return datasets.export_dataset(ctx.principal_or_none, ctx.params["dataset_id"])


@router.route(
    "GET",
    "/eval-datasets/{dataset_id}/export.yaml",
    auth="optional",
    response=dict[str, Any],
    errors=(404,),
    response_media_type="application/yaml, text/plain",
    scope="runs",
)
def export_dataset_yaml(ctx: RequestContext) -> flask.Response:
    """The dataset as a pydantic-evals dataset file in YAML.

    `application/yaml` (RFC 9512), or `text/plain` when `Accept` prefers it (to view it as
    text; also what generated clients that do not know YAML read).
    """
    from shared.evals.interchange import render

    text = render(datasets.export_dataset(ctx.principal_or_none, ctx.params["dataset_id"]), "yaml")
    media = ctx.request.accept_mimetypes.best_match(["application/yaml", "text/plain"]) or "application/yaml"
    return flask.Response(text, status=200, content_type=f"{media}; charset=utf-8")


@router.route(
    "PATCH",
    "/eval-datasets/{dataset_id}",
    body=EvalDatasetUpdate,
    response=EvalDatasetPublic,
    errors=(404,),
    scope="runs",
)
def update_dataset(ctx: RequestContext) -> EvalDatasetPublic:
    """Replace some of a dataset's fields (name, description, cases, evaluators)."""
    return datasets.update(ctx.principal, ctx.params["dataset_id"], ctx.body)


@router.route("DELETE", "/eval-datasets/{dataset_id}", status=204, errors=(404, 409), scope="runs")
def delete_dataset(ctx: RequestContext) -> None:
    """Delete a dataset (409 while it verifies a marketplace listing). Its evals stay."""
    datasets.delete(ctx.principal, ctx.params["dataset_id"])


@router.route(
    "POST",
    "/evals",
    body=EvalCreate,
    response=EvalPublic,
    status=202,
    errors=(404, 409, 429),
    headers=("Idempotency-Key",),
    scope="runs",
)
def create_eval(ctx: RequestContext) -> Reply:
    """Run every case of a dataset on an agent version (async, as a batch) and score the results.
    A retry with the same `Idempotency-Key` returns the first eval (409 if the body differs)."""
    started = evals.create_eval(ctx.principal, ctx.body, header_key=ctx.idempotency_key)
    return Reply(started, status=202, headers={"Location": f"/evals/{started.id}"})


@router.route("GET", "/evals", query=EvalListQuery, response=EvalPage, scope="runs")
def list_evals(ctx: RequestContext) -> EvalPage:
    """My evals, newest first; filter by `agent_id` and/or `dataset_id`."""
    q: EvalListQuery = ctx.query
    return evals.list_mine(
        ctx.principal, agent_id=q.agent_id, dataset_id=q.dataset_id, limit=q.limit, cursor=q.cursor
    )


@router.route("GET", "/evals/{eval_id}", auth="optional", response=EvalPublic, errors=(404,), scope="runs")
def get_eval(ctx: RequestContext) -> EvalPublic:
    """An eval with live counts; `summary` (pass rate, cost, p50/p95 latency) once every run is scored."""
    return evals.get_eval(ctx.principal_or_none, ctx.params["eval_id"])


@router.route(
    "GET",
    "/evals/{eval_id}/results",
    auth="optional",
    query=EvalResultsQuery,
    response=EvalResultPage,
    errors=(400, 404),
    scope="runs",
)
def list_eval_results(ctx: RequestContext) -> EvalResultPage:
    """Per case and repeat: pass/fail, score and each evaluator's verdict with its reason."""
    q: EvalResultsQuery = ctx.query
    return evals.list_results(ctx.principal_or_none, ctx.params["eval_id"], limit=q.limit, cursor=q.cursor)


@router.route(
    "GET",
    "/evals/{eval_id}/compare/{base_id}",
    auth="optional",
    response=EvalComparison,
    errors=(404, 409, 422),
    scope="runs",
)
def compare_evals(ctx: RequestContext) -> EvalComparison:
    """This eval against an earlier one of the same dataset: cases fixed or regressed, cost and
    latency deltas (409 until both are completed)."""
    return evals.compare(ctx.principal_or_none, ctx.params["base_id"], ctx.params["eval_id"])


# -- the OpenAI-compatible API (shared/openai_compat; errors in OpenAI's shape) ---------------


@router.route("GET", "/v1/models", response=ModelList, tags=("openai",), scope="runs")
def openai_models(ctx: RequestContext) -> ModelList:
    """My runnable agents as OpenAI models (`id` = the agent's name)."""
    from shared.openai_compat.models import list_models

    return list_models(ctx.principal)


@router.route(
    "POST",
    "/v1/chat/completions",
    body=ChatCompletionCreate,
    response=dict[str, Any],
    streams=True,
    tags=("openai",),
    errors=(400, 403, 404, 409, 429),
    scope="runs",
)
def openai_chat_completions(ctx: RequestContext) -> Reply | flask.Response:
    """Run the agent named by `model` as an OpenAI chat completion (`stream: true` → chunks)."""
    from shared.openai_compat import chat, runner
    from shared.runs import streaming

    body: ChatCompletionCreate = ctx.body
    prepared = chat.prepare(ctx.principal, body, stream=body.stream)
    headers = {"X-Run-Id": prepared.started.record.id}
    if not body.stream:
        return Reply(chat.completion(body, runner.run_to_end(prepared)), status=200, headers=headers)
    frames = chat.chunks(body, prepared, runner.items(prepared, stream=True))
    return sse_response(streaming.closing(streaming.drive(frames)), headers)


@router.route(
    "POST",
    "/v1/responses",
    body=ResponseCreate,
    response=dict[str, Any],
    streams=True,
    tags=("openai",),
    errors=(400, 403, 404, 409, 429),
    scope="runs",
)
def openai_responses(ctx: RequestContext) -> Reply | flask.Response:
    """Run the agent named by `model` as an OpenAI Responses call (`stream: true` → events)."""
    from shared.openai_compat import responses, runner
    from shared.runs import streaming

    body: ResponseCreate = ctx.body
    prepared = responses.prepare(ctx.principal, body, stream=body.stream)
    headers = {"X-Run-Id": prepared.started.record.id}
    assembler = responses.Assembler(body, prepared)
    if not body.stream:
        return Reply(responses.complete(assembler), status=200, headers=headers)
    frames = responses.event_frames(assembler, runner.items(prepared, stream=True))
    return sse_response(streaming.closing(streaming.drive(frames)), headers)


# -- AG-UI (shared/ag_ui) -----------------------------------------------------------------------


@router.route(
    "POST",
    "/ag-ui/{agent_id}",
    body_kind="raw",
    raw_media_type="application/json",
    streams=True,
    tags=("ag-ui",),
    errors=(400, 403, 404, 409, 413, 415, 422, 429),
    response_media_type="text/event-stream",
    scope="runs",
)
def ag_ui_run(ctx: RequestContext) -> flask.Response:
    """Run my agent for an AG-UI client (`RunAgentInput` JSON body → AG-UI SSE events)."""
    from shared.ag_ui import service as ag_ui
    from shared.openai_compat import runner
    from shared.runs import streaming
    from shared.web.parsing import is_json_content_type, read_body

    if not is_json_content_type((ctx.request.mimetype or "").lower()):
        from shared.errors import UnsupportedMediaType

        raise UnsupportedMediaType("send the AG-UI RunAgentInput as application/json")
    from shared.settings import get_settings

    run_input = ag_ui.parse_input(read_body(ctx.request, get_settings().max_body_bytes))
    prepared = ag_ui.start(ctx.principal, ctx.params["agent_id"], run_input)
    frames = ag_ui.frames(run_input, ctx.header("Accept"), prepared, runner.items(prepared, stream=True))
    headers = {"X-Run-Id": prepared.started.record.id}
    return sse_response(streaming.closing(streaming.drive(frames)), headers)


# -- MCP server (shared/mcp_server): my agents as MCP tools over Streamable HTTP -------------------

_MCP_ERRORS = (400, 403, 404, 406, 413, 415, 429)
# A JSON-RPC notification or response needs no answer: 202 without a body (MCP Streamable HTTP).
_MCP_ACCEPTED = {202: "Accepted (a notification or a response): no body"}


@router.route(
    "POST",
    "/mcp",
    body_kind="raw",
    raw_media_type="application/json",
    response=dict[str, Any],
    streams=True,
    tags=("mcp",),
    errors=_MCP_ERRORS,
    extra_responses=_MCP_ACCEPTED,
    scope="runs",
)
def mcp_all_agents(ctx: RequestContext) -> flask.Response:
    """MCP Streamable HTTP endpoint (stateless): my runnable agents (own and installed) as tools;
    `tools/call` runs the agent (`source: "mcp"`). One JSON-RPC message per POST; the answer is
    JSON or an SSE stream with progress notifications. Protocol errors are JSON-RPC errors."""
    from shared.mcp_server.http import serve

    return serve(ctx, None)


@router.route(
    "POST",
    "/mcp/agents/{agent_id}",
    body_kind="raw",
    raw_media_type="application/json",
    response=dict[str, Any],
    streams=True,
    tags=("mcp",),
    errors=_MCP_ERRORS,
    extra_responses=_MCP_ACCEPTED,
    scope="runs",
)
def mcp_one_agent(ctx: RequestContext) -> flask.Response:
    """MCP Streamable HTTP endpoint serving one of my agents alone (a token restricted to that
    agent works here). `/agents/{agent_id}/mcp` redirects here (308)."""
    from shared.mcp_server.http import serve

    return serve(ctx, ctx.params["agent_id"])


# -- A2A (shared/a2a_server): an agent card and a JSON-RPC endpoint per agent -------------------

from shared.a2a_server.http import AgentCardQuery  # noqa: E402 - kept next to its routes


@router.route(
    "GET",
    "/.well-known/agent-card.json",
    query=AgentCardQuery,
    response=dict[str, Any],
    errors=(404,),
    tags=("a2a",),
    scope="runs",
)
def a2a_card_by_query(ctx: RequestContext) -> dict[str, Any]:
    """The A2A agent card (protocol 0.3) of my agent `?agent_id=`; its `url` is the agent's
    JSON-RPC endpoint `/a2a/{agent_id}`."""
    from shared.a2a_server.http import card

    return card(ctx, ctx.query.agent_id)


@router.route(
    "GET",
    "/a2a/{agent_id}/.well-known/agent-card.json",
    response=dict[str, Any],
    errors=(404,),
    tags=("a2a",),
    scope="runs",
)
def a2a_card(ctx: RequestContext) -> dict[str, Any]:
    """The A2A agent card of my agent, at the well-known path under its own base URL
    `/a2a/{agent_id}` (where A2A clients look for it)."""
    from shared.a2a_server.http import card

    return card(ctx, ctx.params["agent_id"])


@router.route(
    "POST",
    "/a2a/{agent_id}",
    body_kind="raw",
    raw_media_type="application/json",
    response=dict[str, Any],
    streams=True,
    tags=("a2a",),
    errors=(404, 413, 415),
    scope="runs",
)
def a2a_rpc(ctx: RequestContext) -> flask.Response:
    """A2A JSON-RPC 2.0 for my agent: `message/send` (a run; `blocking: false` → queued),
    `message/stream` (SSE), `tasks/get`, `tasks/cancel`. A task is a run (`source: "a2a"`), a
    context is a session. JSON-RPC errors come with status 200."""
    from shared.a2a_server.http import serve

    return serve(ctx, ctx.params["agent_id"])


@functions_framework.http
def runs_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
