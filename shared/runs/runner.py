"""Executing a recorded run — the one code path of sync, stream, async, and every resume.

``execute_run`` runs (or continues) a run with the shared execution core, storing its events
and checkpoints, and ends it through ``shared.runs.lifecycle``: finished (``_finish``: record,
session history, stats, result publish) or paused for a human decision (``pausing.pause``).
Whatever happens — also when the consumer goes away mid-stream — the run never stays
``running``: it ends ``cancelled`` with ``error.code = client_disconnected``.

``resume=True`` continues from the run's stored conversation (``shared.runs.checkpoints``):
after every decision on a paused run, and whenever a worker takes over a run whose holder died.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.runs import checkpoints, lifecycle, repository
from shared.runs.events import RunEventWriter, last_event_seq
from shared.runs.leases import LeaseKeeper
from shared.runs.lifecycle import Event, Move
from shared.runs.schemas import RunPublic, RunRecord

if TYPE_CHECKING:
    from shared.agents.definition import AgentDefinition
    from shared.execution.durable import Resume
    from shared.execution.executor import Execution, ExecutionSpec
    from shared.runs.artifacts import ArtifactRecorder
    from shared.runs.replay import ReplayTape

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
    # The caller has just created or claimed the run (not cancelled then): the first read
    # can wait a poll interval, so a short run costs no read for this.
    last = {"at": time.monotonic(), "value": False}

    async def check() -> bool:
        now = time.monotonic()
        if not last["value"] and now - last["at"] >= CANCEL_POLL_SECONDS:
            last["at"] = now
            record = await asyncio.to_thread(repository.load_run, run_id)
            last["value"] = bool(record is not None and record.cancel_requested)
        return bool(last["value"])

    return check


class _Steps:
    """Stores checkpoints for the lease holder; notices when the run is no longer ours."""

    def __init__(self, record: RunRecord, segments: int) -> None:
        self.record = record
        self.segments = segments
        self.lost = False
        # History the client sent with the request (no session keeps it): stored with the
        # first segment, so a resumed run (after a decision) continues the whole conversation.
        self.client_history: list[Any] = []

    def first(self, messages: list[Any]) -> list[Any]:
        """``messages`` to store as the next segment (the first carries the client's history)."""
        return [*self.client_history, *messages] if self.segments == 0 else messages

    async def save(self, messages: list[Any], usage: Any) -> None:
        if self.lost:
            return
        step = checkpoints.segment(self.record.id, self.segments, self.first(messages), usage)
        token = self.record.lease_token

        def choose(record: RunRecord, now: datetime) -> Move | None:
            if not lifecycle.held_by(token)(record, now):
                return None
            return Move(Event.CHECKPOINT, also=step.write)

        outcome = await asyncio.to_thread(lifecycle.transition, self.record.id, choose)
        if outcome.applied:
            self.segments += 1
        else:
            self.lost = True  # taken over or ended elsewhere: stop at the next step


async def _resume_state(record: RunRecord) -> tuple[Resume, int]:
    from shared.execution.durable import Resume
    from shared.runs.pausing import deferred_results

    stored = await asyncio.to_thread(checkpoints.load, record.id)
    deferred = deferred_results(record, stored.pending) if stored.pending is not None else None
    return Resume(messages=stored.messages, usage=stored.usage, deferred=deferred), stored.segments


_warm_started = threading.Event()


def _warm_up() -> None:
    """Create the Pub/Sub publisher on a helper thread, once per instance, when a run is under
    way: the run publishes its result when it ends, and on a cold instance the client's import
    and construction (~0.1-0.2 s idle, ~0.4 s on a loaded machine) then overlap the model's
    answer and the run's Firestore round trips instead of adding to the first request."""
    from shared.clients import has_publisher, publisher

    if _warm_started.is_set() or has_publisher():
        return
    _warm_started.set()

    def warm() -> None:
        try:
            publisher()
        except Exception:  # the publish that needs it reports the error
            _log.debug("could not create the Pub/Sub publisher ahead of time", exc_info=True)

    threading.Thread(target=warm, name="warm-publisher", daemon=True).start()


async def execute_run(
    record: RunRecord,
    *,
    definition: AgentDefinition | None = None,
    should_cancel: CancelCheck | None = None,
    session_revision: int | None = None,
    release_session: bool = True,
    event_start: int | None = 0,
    on_file_written: Callable[[str], None] | None = None,
    stream: bool = True,
    defer_transient: bool = False,
    resume: bool = False,
    history: list[Any] | None = None,
) -> AsyncIterator[StreamItem]:
    """Execute (``resume``: continue) a recorded run, yielding ``run.started``/``run.resumed``,
    the execution's events and ``run.completed``/``run.failed``/``run.requires_action``.
    ``event_start`` None = continue after the last stored event.
    """
    from shared.execution.errors import CLIENT_DISCONNECTED
    from shared.execution.executor import ExecutionSpec
    from shared.runs import pausing
    from shared.runs.artifacts import ArtifactRecorder

    continuing = event_start is None
    if event_start is None:
        event_start = await asyncio.to_thread(last_event_seq, record.id)
    writer = RunEventWriter(record.id, start_after=event_start)
    artifacts = ArtifactRecorder(record.owner_id, record.id, also=on_file_written)
    keeper = LeaseKeeper(record.id, record.lease_token) if record.lease_token else None
    execution: Execution | None = None
    finished = paused = False
    history_revision = session_revision
    base_cancel = should_cancel or cancel_requested_check(record.id)
    steps = _Steps(record, 0)
    tape: ReplayTape | None = None

    async def cancel_check() -> bool:
        return steps.lost or (keeper is not None and keeper.lost) or await base_cancel()

    try:
        if keeper is not None:
            keeper.start()
        if definition is None:
            definition = record.pinned_definition()  # a draft run's unsaved definition
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
        resume_state: Resume | None = None
        if resume or record.prefix_messages:
            # A fork (and a replay of one) starts from the conversation prefix it was given.
            resume_state, steps.segments = await _resume_state(record)
        elif record.session_id is None and history:
            steps.client_history = list(history)
        if record.source == "replay" and record.replay_of:
            from shared.runs.forks import load_tape

            tape = await asyncio.to_thread(load_tape, record)
        spec = ExecutionSpec(
            run_id=record.id,
            owner_id=record.owner_id,
            definition=definition,
            input=record.input,
            history=history or None,
            requested_limits=record.limits,
            on_file_written=artifacts.file_written,
            resume=resume_state,
            save_step=steps.save if record.lease_token else None,
            replay=tape,
        )
        execution = execution_for(spec, cancel_check, stream=stream)
        resumed = continuing and resume_state is not None and bool(resume_state.messages)
        first = "run.resumed" if resumed else "run.started"
        started = {"run": record.public().model_dump(mode="json")}
        yield StreamItem(writer.add(first, started), first, started)
        warming = True
        async for event in execution.events():
            if event.type is None:
                yield StreamItem(None, None, native=event.native)
            else:
                yield StreamItem(writer.add(event.type, event.data), event.type, event.data, event.native)
            if warming:  # the agent runs and its first event is out (a stream's first text)
                _warm_up()
                warming = False
        outcome = execution.result
        if defer_transient and outcome is not None and outcome.error is not None and outcome.error.transient:
            # The async worker decides: retry later, or give up (max attempts). Not finished here.
            finished = True
            data = {"error": outcome.error.as_dict(), "attempt": record.attempts}
            yield StreamItem(writer.add("run.attempt_failed", data), "run.attempt_failed", data)
            return
        if outcome is not None and outcome.status == "requires_action":
            waiting = await pausing.pause(record, outcome, steps.segments, definition, steps.first)
            finished = True
            if waiting is not None:
                paused = True
                data = {"run": waiting.model_dump(mode="json")}
                yield StreamItem(writer.add("run.requires_action", data), "run.requires_action", data)
            return
        terminal: list[StreamItem] = []

        def store_terminal(final: RunPublic) -> None:
            event_type = "run.completed" if final.status == "succeeded" else "run.failed"
            data = {"run": final.model_dump(mode="json")}
            terminal.append(StreamItem(writer.add(event_type, data), event_type, data))

        await finish(
            record, execution, history_revision, artifacts, on_stored=store_terminal, steps=steps, tape=tape
        )
        finished = True
        if terminal:
            yield terminal[0]
    finally:
        if keeper is not None:
            await keeper.stop()
        if not finished:
            # The consumer went away (or setup failed): never leave the run 'running'.
            try:
                if execution is not None and execution.result is None:
                    execution.finish("cancelled", CLIENT_DISCONNECTED)
                final = await finish(record, execution, history_revision, artifacts, steps=steps, tape=tape)
                if final is not None:
                    event_type = "run.completed" if final.status == "succeeded" else "run.failed"
                    writer.add(event_type, {"run": final.model_dump(mode="json")})
            except Exception:
                _log.exception("could not finish an interrupted run", extra={"run_id": record.id})
        try:
            if record.session_id is not None and release_session and not paused:
                from shared.sessions.repository import release_lease

                await asyncio.to_thread(release_lease, record.session_id, record.id)
        finally:
            await writer.close()


def _final_segment(
    record: RunRecord, execution: Execution | None, steps: _Steps | None, fields: dict[str, Any]
) -> checkpoints.Segment | None:
    """The run's last messages (its answer) as one more conversation segment, so the stored
    conversation is the whole run (replay and fork need every response). Sets
    ``recorded_messages``; written in the finishing transaction."""
    if execution is None or steps is None or steps.lost:
        return None
    unsaved, native_usage = execution.unsaved_messages()
    # The client's history (OpenAI/AG-UI) is stored with the first segment, as checkpoints do.
    fields["recorded_messages"] = len(steps.client_history) + execution.steps.stored + len(unsaved)
    if steps.client_history:
        fields["history_messages"] = len(steps.client_history)
    if not unsaved or native_usage is None:
        return None
    return checkpoints.segment(record.id, steps.segments, steps.first(unsaved), native_usage)


async def finish(
    record: RunRecord,
    execution: Execution | None,
    session_revision: int | None,
    artifacts: ArtifactRecorder | None = None,
    *,
    on_stored: Callable[[RunPublic], None] | None = None,
    steps: _Steps | None = None,
    tape: ReplayTape | None = None,
) -> RunPublic | None:
    """End the run with its outcome (``succeed``/``fail``/``cancel``) and the session history.

    None: the run was no longer this execution's to finish (``lifecycle.held_by``): it was
    ended or taken over elsewhere, and that outcome stands. ``on_stored`` runs as soon as the
    record is written (the terminal event is queued there, so its write overlaps the rest).
    """
    from shared.execution.errors import RunError

    result = execution.result if execution is not None else None
    if result is None or result.status == "requires_action":
        error = RunError("internal", "the run could not be started")
        fields: dict[str, Any] = {"status": "failed", "error": error.as_dict()}
    else:
        fields = {
            "status": result.status,
            "output": result.output,
            "error": result.error.as_dict() if result.error else None,
            "usage": result.usage.model_dump(),
            "cost_usd": result.cost_usd,
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
    status = fields.pop("status")
    if tape is not None:
        error: Any = fields.get("error")
        fields["replay"] = tape.finish(status, fields.get("output"), error.get("code") if error else None)
    final_step = _final_segment(record, execution, steps, fields)
    event = {"succeeded": Event.SUCCEED, "cancelled": Event.CANCEL}.get(status, Event.FAIL)
    fields["finished_at"] = datetime.now(UTC)
    guard = lifecycle.held_by(record.lease_token)

    def choose(current: RunRecord, now: datetime) -> Move | None:
        if not lifecycle.allows(current.status, event) or not guard(current, now):
            return None
        return Move(event, fields, also=final_step.write if final_step is not None else None)

    outcome = await asyncio.to_thread(lifecycle.transition, record.id, choose)
    if not outcome.applied or outcome.record is None:
        _log.warning("a run was ended elsewhere before it finished here", extra={"run_id": record.id})
        return None
    updated = outcome.record
    if on_stored is not None:
        on_stored(updated.public())
    if updated.listing_id != "":  # "" = known not to come from a listing: nothing to count
        from shared.marketplace.stats import record_run_for_listing

        await asyncio.to_thread(record_run_for_listing, updated, updated.listing_id)
    from shared.runs.queue import publish_result

    await asyncio.to_thread(publish_result, updated.public())
    return updated.public()
