"""The run lifecycle behind ``POST /runs`` (sync and stream), ``GET /runs`` and ``GET /runs/{id}``.

``start_run`` validates and records a run (idempotently) and takes the session's lease;
``execute_run`` then executes it with the shared execution core, storing its events and
finishing its record, session history and lease whatever happens (also when the client goes
away mid-stream). The async worker reuses ``execute_run`` for queued runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationFailed
from shared.runs import repository
from shared.runs.events import RunEventWriter
from shared.runs.rate_limit import consume_run_quota
from shared.runs.schemas import RunCreate, RunPage, RunPublic, RunRecord
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.agents.definition import AgentDefinition
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal
    from shared.execution.executor import Execution, ExecutionSpec
    from shared.runs.artifacts import ArtifactRecorder

_log = logging.getLogger(__name__)

CancelCheck = Callable[[], Awaitable[bool]]
CANCEL_POLL_SECONDS = 1.0


@dataclass
class StreamItem:
    """One item of a run's stream: a run event (``id``/``type``/``data``) and/or a pydantic-ai event."""

    id: int | None
    type: str | None
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    native: Any = None


@dataclass
class StartedRun:
    record: RunRecord
    created: bool
    definition: AgentDefinition | None = None
    session_revision: int | None = None


def _request_hash(owner_id: str, body: RunCreate) -> str:
    payload = body.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(f"{owner_id}|{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()


def _idempotency_key(body: RunCreate, header_key: str | None) -> str | None:
    if body.idempotency_key and header_key and body.idempotency_key != header_key:
        raise ValidationFailed.field("idempotency_key", "differs from the Idempotency-Key header")
    key = body.idempotency_key or header_key
    if key is not None and len(key) > 200:
        raise ValidationFailed.field("idempotency_key", "at most 200 characters")
    return key


def new_run_record(
    *,
    owner_id: str,
    agent_id: str,
    agent_version: int,
    body: RunCreate,
    status: str,
    idempotency_key: str | None,
    run_id: str | None = None,
    listing_id: str | None = None,
) -> RunRecord:
    now = datetime.now(UTC)
    running = status == "running"
    return RunRecord(
        id=run_id or uuid.uuid4().hex,
        agent_id=agent_id,
        agent_version=agent_version,
        session_id=body.session_id,
        owner_id=owner_id,
        mode=body.mode,
        status=status,  # type: ignore[arg-type]
        input=body.model_dump(mode="json")["input"],
        created_at=now,
        started_at=now if running else None,
        attempts=1 if running else 0,
        limits=body.limits,
        idempotency_key=idempotency_key,
        request_hash=_request_hash(owner_id, body),
        listing_id=listing_id,
    )


def listing_of(agent: AgentRecord) -> str:
    """The listing an agent record was installed from ("" if none), for ``new_run_record``."""
    return agent.source.listing_id if agent.source is not None else ""


def enqueue_async(principal: Principal, body: RunCreate, idempotency_key: str | None) -> StartedRun:
    """``mode: "async"``: a queued record + its Pub/Sub message (``shared.runs.async_runs``)."""
    from shared.runs.async_runs import enqueue

    return enqueue(principal, body, idempotency_key)


def start_run(principal: Principal, body: RunCreate, *, header_key: str | None = None) -> StartedRun:
    """Validate and record a sync/stream run (``running``), holding its session's lease.

    A retry with the same idempotency key returns the first run (``created`` False) and
    starts nothing. Nothing is written when validation fails (404 agent/session, 409 busy
    session, 422).
    """
    from shared.agents.repository import runnable_agent
    from shared.sessions.repository import acquire_lease, release_lease

    key = _idempotency_key(body, header_key)
    if key is not None:
        existing = repository.find_idempotent_run(
            principal.user_id, key, _request_hash(principal.user_id, body)
        )
        if existing is not None:
            if existing.publish_pending:
                from shared.runs.async_runs import republish_if_pending

                existing = republish_if_pending(existing, min_age_seconds=0.0)
            return StartedRun(existing, created=False)
    # Every mode counts against the per-user limit; idempotent retries above do not.
    consume_run_quota(principal.user_id)
    if body.mode == "async":
        return enqueue_async(principal, body, key)
    agent = runnable_agent(body.agent_id, principal)
    record = new_run_record(
        owner_id=principal.user_id,
        agent_id=agent.id,
        agent_version=agent.version,
        body=body,
        status="running",
        idempotency_key=key,
        listing_id=listing_of(agent),
    )
    revision: int | None = None
    if body.session_id is not None:
        lease_seconds = max(
            get_settings().session_lease_seconds, (agent.definition.limits.timeout_seconds or 0) + 60
        )
        session = acquire_lease(body.session_id, principal.user_id, agent.id, record.id, lease_seconds)
        revision = session.revision
    try:
        stored, created = repository.create_run(record)
    except BaseException:
        if body.session_id is not None:
            release_lease(body.session_id, record.id)
        raise
    if not created and body.session_id is not None:
        release_lease(body.session_id, record.id)
    return StartedRun(stored, created, agent.definition if created else None, revision)


def execution_for(
    spec: ExecutionSpec, should_cancel: CancelCheck | None, *, stream: bool = True
) -> Execution:
    """The executor for a definition (workflow agents plug in here)."""
    from shared.execution.executor import Execution

    if spec.definition.kind == "workflow":
        from shared.execution.workflow import WorkflowExecution

        return WorkflowExecution(spec, should_cancel=should_cancel, stream=stream)
    return Execution(spec, should_cancel=should_cancel, stream=stream)


def cancel_requested_check(run_id: str) -> CancelCheck:
    """A ``should_cancel`` that reads the run's ``cancel_requested`` flag (at most once a second)."""
    import asyncio

    # The caller has just created or claimed the run (not cancelled then): the first read
    # can wait a poll interval, so a short run costs no read for this.
    last = {"at": time.monotonic(), "value": False}

    async def check() -> bool:
        now = time.monotonic()
        if not last["value"] and now - last["at"] >= CANCEL_POLL_SECONDS:
            last["at"] = now
            record = await asyncio.to_thread(repository.load_run, run_id)
            last["value"] = bool(record is not None and getattr(record, "cancel_requested", False))
        return bool(last["value"])

    return check


async def execute_run(
    record: RunRecord,
    *,
    definition: AgentDefinition | None = None,
    should_cancel: CancelCheck | None = None,
    session_revision: int | None = None,
    release_session: bool = True,
    event_start: int = 0,
    on_file_written: Callable[[str], None] | None = None,
    stream: bool = True,
    defer_transient: bool = False,
    history: list[Any] | None = None,
) -> AsyncIterator[StreamItem]:
    """Execute a recorded run, yielding ``run.started``, the execution's events and
    ``run.completed``/``run.failed``; stores events, finishes the record, appends the
    session history on success and releases the session lease — also if the consumer stops
    early (the run then ends ``cancelled`` with ``error.code = client_disconnected``).
    """
    import asyncio

    from shared.execution.errors import CLIENT_DISCONNECTED
    from shared.execution.executor import ExecutionSpec
    from shared.runs.artifacts import ArtifactRecorder

    writer = RunEventWriter(record.id, start_after=event_start)
    artifacts = ArtifactRecorder(record.owner_id, record.id, also=on_file_written)
    execution: Execution | None = None
    finished = False
    history_revision = session_revision
    try:
        if definition is None:
            from shared.agents.repository import get_agent_version

            definition = (
                await asyncio.to_thread(get_agent_version, record.agent_id, record.agent_version)
            ).definition
        # ``history``: the conversation so far when the client sends it (OpenAI-compatible API,
        # AG-UI) instead of keeping it in a session.
        if record.session_id is not None:
            from shared.sessions.repository import load_history, load_session

            if history_revision is None:
                session = await asyncio.to_thread(load_session, record.session_id)
                history_revision = session.revision if session is not None else 0
            history = await asyncio.to_thread(load_history, record.session_id)
        spec = ExecutionSpec(
            run_id=record.id,
            owner_id=record.owner_id,
            definition=definition,
            input=record.input,
            history=history or None,
            requested_limits=record.limits,
            on_file_written=artifacts.file_written,
        )
        execution = execution_for(spec, should_cancel or cancel_requested_check(record.id), stream=stream)
        started = {"run": record.public().model_dump(mode="json")}
        yield StreamItem(writer.add("run.started", started), "run.started", started)
        async for event in execution.events():
            if event.type is None:
                yield StreamItem(None, None, native=event.native)
            else:
                yield StreamItem(writer.add(event.type, event.data), event.type, event.data, event.native)
        outcome = execution.result
        if defer_transient and outcome is not None and outcome.error is not None and outcome.error.transient:
            # The async worker decides: retry later, or give up (max attempts). Not finished here.
            finished = True
            data = {"error": outcome.error.as_dict(), "attempt": record.attempts}
            yield StreamItem(writer.add("run.attempt_failed", data), "run.attempt_failed", data)
            return
        terminal: list[StreamItem] = []

        def store_terminal(final: RunPublic) -> None:
            event_type = "run.completed" if final.status == "succeeded" else "run.failed"
            data = {"run": final.model_dump(mode="json")}
            terminal.append(StreamItem(writer.add(event_type, data), event_type, data))

        await _finish(record, execution, history_revision, artifacts, on_stored=store_terminal)
        finished = True
        yield terminal[0]
    finally:
        if not finished:
            # The consumer went away (or setup failed): never leave the run 'running'.
            try:
                if execution is not None and execution.result is None:
                    execution.finish("cancelled", CLIENT_DISCONNECTED)
                final = await _finish(record, execution, history_revision, artifacts)
                event_type = "run.completed" if final.status == "succeeded" else "run.failed"
                writer.add(event_type, {"run": final.model_dump(mode="json")})
            except Exception:
                _log.exception("could not finish an interrupted run", extra={"run_id": record.id})
        try:
            if record.session_id is not None and release_session:
                from shared.sessions.repository import release_lease

                await asyncio.to_thread(release_lease, record.session_id, record.id)
        finally:
            await writer.close()


async def _finish(
    record: RunRecord,
    execution: Execution | None,
    session_revision: int | None,
    artifacts: ArtifactRecorder | None = None,
    *,
    on_stored: Callable[[RunPublic], None] | None = None,
) -> RunPublic:
    """Write the outcome to the run record (and the session history on success).

    ``on_stored`` runs as soon as the record is written (the terminal event is queued there,
    so its write overlaps the stats and the results publish).
    """
    import asyncio

    from shared.execution.errors import RunError

    result = execution.result if execution is not None else None
    now = datetime.now(UTC)
    if result is None:
        error = RunError("internal", "the run could not be started")
        fields: dict[str, Any] = {"status": "failed", "error": error.as_dict(), "finished_at": now}
    else:
        fields = {
            "status": result.status,
            "output": result.output,
            "error": result.error.as_dict() if result.error else None,
            "usage": result.usage.model_dump(),
            "cost_usd": result.cost_usd,
            "finished_at": now,
            "finish_reason": result.finish_reason,
        }
        if result.status == "succeeded" and record.session_id is not None and result.new_messages_json:
            from shared.sessions.repository import append_history

            count = len(json.loads(result.new_messages_json))
            try:
                await asyncio.to_thread(
                    append_history, record.session_id, result.new_messages_json, count, session_revision or 0
                )
            except Exception:
                _log.exception("could not save the session history", extra={"run_id": record.id})
                fields["status"] = "failed"
                fields["error"] = {
                    "code": "session_save_failed",
                    "message": "the conversation could not be saved",
                }
    if artifacts is not None and artifacts.paths:
        # Snapshot what the tools wrote, as it is now (the run's artifacts).
        fields["artifacts"] = await asyncio.to_thread(artifacts.snapshot)
    await asyncio.to_thread(repository.update_run, record.id, fields)
    updated = record.model_copy(update=fields)
    if on_stored is not None:
        on_stored(updated.public())
    if updated.listing_id != "":  # "" = known not to come from a listing: nothing to count
        from shared.marketplace.stats import record_run_for_listing

        await asyncio.to_thread(record_run_for_listing, updated, updated.listing_id)
    from shared.runs.queue import publish_result

    await asyncio.to_thread(publish_result, updated.public())
    return updated.public()


# -- sync / read -----------------------------------------------------------------------------


def run_sync(started: StartedRun) -> RunPublic:
    """Execute a started run to the end and return it."""
    from shared import aio

    if not started.created:
        return started.record.public()

    async def drain() -> RunPublic:
        final: RunPublic | None = None
        async for item in execute_run(
            started.record,
            definition=started.definition,
            session_revision=started.session_revision,
            stream=False,
        ):
            if item.type in ("run.completed", "run.failed"):
                final = RunPublic.model_validate(item.data["run"])
        return (
            final
            if final is not None
            else repository.get_run(started.record.id, started.record.owner_id).public()
        )

    return aio.run(drain())


def get(principal: Principal, run_id: str) -> RunPublic:
    record = repository.get_run(run_id, principal.user_id)
    if record.publish_pending:
        from shared.runs.async_runs import republish_if_pending

        record = republish_if_pending(record)
    return record.public()


def list_mine(
    principal: Principal, *, agent_id: str | None, status: str | None, limit: int, cursor: str | None
) -> RunPage:
    records, next_cursor = repository.list_runs(
        principal.user_id, agent_id=agent_id, status=status, limit=limit, cursor=cursor
    )
    return RunPage(items=[r.public() for r in records], next_cursor=next_cursor)
