"""``POST /runs/{id}/replay``, ``POST /runs/{id}/fork`` and ``GET /runs/{id}/messages``.

Both create a new run of the source run's agent (owner only; the source must have ended and
kept its whole conversation, else 409 ``not_recorded``), in any mode — sync, stream or async,
exactly as ``POST /runs`` — and the run is executed by the one execution path
(``shared.runs.runner``):

- a **replay** (``source: "replay"``, ``replay_of``) plays the recorded model responses and
  tool results back (``shared.runs.replay``): no model call, no tool runs, cost 0; its
  ``replay`` report says whether everything matched, else where it first diverged;
- a **fork** (``source: "fork"``, ``fork_of``, ``fork_at``) starts from the source's messages
  before ``at`` — stored as the fork's first conversation segment (``prefix_messages``) — and
  sends the request at ``at`` again (its prompt replaced by ``input`` if given) to the model,
  on the chosen version: a real run from there on.

Nothing is written when validation fails. The conversation prefix is stored before the run
record, so a run that exists always has its prefix (an async fork can be delivered at once).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import db
from shared.errors import Conflict, ValidationFailed
from shared.runs import checkpoints, repository
from shared.runs.schemas import (
    RunForkCreate,
    RunMessage,
    RunMessagePage,
    RunMode,
    RunRecord,
    RunReplayCreate,
)

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from shared.agents.definition import AgentDefinition
    from shared.auth.principal import Principal
    from shared.runs.replay import ReplayTape
    from shared.runs.service import StartedRun


def not_recorded(run_id: str) -> Conflict:
    return Conflict(
        "the run has no complete recording of its conversation (it ended before recording was "
        "complete, or has not ended)",
        code="not_recorded",
        details={"run_id": run_id},
    )


def _ended(principal: Principal, run_id: str) -> RunRecord:
    record = repository.get_run_for(principal, run_id)
    if not record.finished:
        raise Conflict(
            f"the run is {record.status}; only ended runs can be replayed or forked",
            code="run_not_finished",
            details={"run_id": run_id, "status": record.status},
        )
    return record


def recorded_messages(record: RunRecord) -> list[ModelMessage]:
    """The run's whole stored conversation (409 ``not_recorded`` if incomplete)."""
    if record.recorded_messages is None:
        raise not_recorded(record.id)
    messages = checkpoints.load(record.id).messages
    if len(messages) != record.recorded_messages or not messages:
        raise not_recorded(record.id)
    return messages


def _definition(principal: Principal, source: RunRecord, version: int | None) -> tuple[int, AgentDefinition]:
    from shared.agents.repository import get_agent_version, runnable_agent, version_not_found

    agent = runnable_agent(source.agent_id, principal)
    chosen = version or source.agent_version
    if chosen > agent.version:
        raise version_not_found(agent.id, chosen)
    definition = get_agent_version(agent.id, chosen).definition
    if definition.kind != "agent":
        raise ValidationFailed.field(
            "agent_version",
            "workflow agents cannot be replayed or forked (their steps are runs of their own)",
        )
    return chosen, definition


def _hash(owner_id: str, what: str, run_id: str, body: Any) -> str:
    payload = json.dumps(body.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(f"{owner_id}|{what}|{run_id}|{payload}".encode()).hexdigest()


def _store_prefix(run_id: str, prefix: list[ModelMessage]) -> None:
    from pydantic_ai.usage import RunUsage

    step = checkpoints.segment(run_id, 0, prefix, RunUsage())

    def build(batch: db.CountingWrites) -> None:
        step.write(batch)  # pyright: ignore[reportArgumentType]

    db.commit_batch(build)


def _start(
    principal: Principal,
    source: RunRecord,
    *,
    mode: RunMode,
    version: int,
    definition: AgentDefinition,
    key: str | None,
    request_hash: str,
    prefix: list[ModelMessage],
    fields: dict[str, Any],
) -> StartedRun:
    from shared.runs.leases import new_lease
    from shared.runs.rate_limit import consume_run_quota
    from shared.runs.service import StartedRun

    consume_run_quota(principal.user_id)
    now = datetime.now(UTC)
    running = mode != "async"
    record = RunRecord.model_validate(
        {
            "id": uuid.uuid4().hex,
            "agent_id": source.agent_id,
            "agent_version": version,
            "owner_id": principal.user_id,
            "mode": mode,
            "status": "running" if running else "queued",
            "input": source.input,
            "created_at": now,
            "started_at": now if running else None,
            "attempts": 1 if running else 0,
            "limits": source.limits,
            "idempotency_key": key,
            "request_hash": request_hash,
            "listing_id": "",
            "publish_pending": not running,
            "prefix_messages": len(prefix),
            **(new_lease() if running else {}),
            **fields,
        }
    )
    if prefix:
        _store_prefix(record.id, prefix)
    stored, created = repository.create_run(record)
    if not created:
        return StartedRun(stored, created=False)
    if not running:
        from shared.runs.async_runs import mark_published, withdraw
        from shared.runs.queue import RunMessage as QueueMessage
        from shared.runs.queue import publish_run

        try:
            publish_run(QueueMessage(stored.id))
        except Exception:
            withdraw(stored)
            raise
        stored = mark_published(stored)
    return StartedRun(stored, True, definition, None)


def _idempotent(principal: Principal, key: str | None, request_hash: str) -> StartedRun | None:
    from shared.runs.service import StartedRun

    if key is None:
        return None
    existing = repository.find_idempotent_run(principal.user_id, key, request_hash)
    if existing is None:
        return None
    if existing.publish_pending:
        from shared.runs.async_runs import republish_if_pending

        existing = republish_if_pending(existing, min_age_seconds=0.0)
    return StartedRun(existing, created=False)


def start_replay(principal: Principal, run_id: str, body: RunReplayCreate, key: str | None) -> StartedRun:
    """A new run re-playing ``run_id``'s recorded responses and tool results at $0."""
    request_hash = _hash(principal.user_id, "replay", run_id, body)
    again = _idempotent(principal, key, request_hash)
    if again is not None:
        return again
    source = _ended(principal, run_id)
    messages = recorded_messages(source)
    version, definition = _definition(principal, source, body.agent_version)
    prefix = messages[: _replayed_from(source)]
    return _start(
        principal,
        source,
        mode=body.mode,
        version=version,
        definition=definition,
        key=key,
        request_hash=request_hash,
        prefix=prefix,
        fields={"source": "replay", "replay_of": source.id},
    )


def fork_prefix(messages: list[ModelMessage], at: int, new_input: Any) -> list[ModelMessage]:
    """The messages before ``at`` and the request at ``at`` (its prompt replaced by ``new_input``)."""
    from pydantic_ai.messages import ModelRequest, UserPromptPart

    from shared.execution.executor import prompt_from_input

    if at >= len(messages):
        raise ValidationFailed.field("at", f"the run has {len(messages)} messages (0 to {len(messages) - 1})")
    target = messages[at]
    if not isinstance(target, ModelRequest):
        raise ValidationFailed.field(
            "at", f"message {at} is a model response; fork at a model request (the message before it)"
        )
    if new_input is None:
        return [*messages[:at], replace(target)]
    prompt = prompt_from_input(new_input)
    parts = [p for p in target.parts if not isinstance(p, UserPromptPart)]
    return [*messages[:at], ModelRequest(parts=[*parts, UserPromptPart(prompt)])]


def start_fork(principal: Principal, run_id: str, body: RunForkCreate, key: str | None) -> StartedRun:
    """A new run continuing ``run_id``'s conversation from message ``at`` with a new model call."""
    request_hash = _hash(principal.user_id, "fork", run_id, body)
    again = _idempotent(principal, key, request_hash)
    if again is not None:
        return again
    source = _ended(principal, run_id)
    messages = recorded_messages(source)
    prefix = fork_prefix(messages, body.at, body.input)
    version, definition = _definition(principal, source, body.agent_version)
    fields: dict[str, Any] = {"source": "fork", "fork_of": source.id, "fork_at": body.at}
    if body.input is not None:
        fields["input"] = body.model_dump(mode="json")["input"]
    return _start(
        principal,
        source,
        mode=body.mode,
        version=version,
        definition=definition,
        key=key,
        request_hash=request_hash,
        prefix=prefix,
        fields=fields,
    )


def load_tape(record: RunRecord) -> ReplayTape:
    """The recording a replay run plays back (its source run's conversation)."""
    from shared.runs.replay import ReplayTape

    assert record.replay_of is not None
    source = repository.load_run(record.replay_of)
    if source is None:
        raise not_recorded(record.replay_of)
    return ReplayTape.for_run(source, recorded_messages(source), prefix_messages=_replayed_from(source))


def _replayed_from(source: RunRecord) -> int:
    """Where the replayed part of a recording starts: after a fork's copied prefix, or after
    the history a client sent with the run (neither was a model call of this run)."""
    if source.prefix_messages:
        return source.prefix_messages
    # The client's history and the run's own first request (its prompt): the replay resumes
    # by sending that request, as the recorded run did.
    return source.history_messages + 1 if source.history_messages else 0


def list_messages(principal: Principal, run_id: str) -> RunMessagePage:
    """The run's stored conversation with indexes (what ``fork``'s ``at`` refers to)."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelRequest

    record = repository.get_run_for(principal, run_id)
    messages = checkpoints.load(record.id).messages
    dumped: list[dict[str, Any]] = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    items = [
        RunMessage(index=i, kind="request" if isinstance(m, ModelRequest) else "response", message=d)
        for i, (m, d) in enumerate(zip(messages, dumped, strict=True))
    ]
    recorded = record.recorded_messages is not None and record.recorded_messages == len(messages)
    return RunMessagePage(items=items, recorded=recorded and bool(messages))
