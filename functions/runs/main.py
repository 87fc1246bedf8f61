"""The `runs` Cloud Function: /runs, /sessions, /batches (see API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.health import HealthReport, health_report
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
    return _answer(ctx, started)


def _answer(ctx: RequestContext, started: service.StartedRun) -> Reply | flask.Response:
    """Answer a started run in its mode: 202 queued (async), the finished run (sync), or SSE."""
    headers = {"Location": f"/runs/{started.record.id}", "X-Run-Id": started.record.id}
    if started.record.mode == "async":
        return Reply(started.record.public(), status=202, headers=headers)
    if started.record.mode == "sync" and not ctx.wants_event_stream():
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
    return _answer(ctx, started)


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
    return _answer(ctx, started)


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


# Imported on first use: the runs routes above are what a cold instance's first request needs.
router.include_lazily("shared.evals.routes", ("/eval-datasets", "/evals"))
router.include_lazily("shared.openai_compat.routes", ("/v1",))
router.include_lazily("shared.ag_ui.routes", ("/ag-ui",))
router.include_lazily("shared.mcp_server.routes", ("/mcp",))
router.include_lazily("shared.a2a_server.routes", ("/.well-known", "/a2a"))


@functions_framework.http
def runs_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
