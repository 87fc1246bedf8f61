"""Starting and driving the run behind an OpenAI-compatible call (a normal run: stored,
listed in ``GET /runs``, billed and rate-limited like ``POST /runs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.errors import ServiceError
from shared.openai_compat.mapping import Conversation

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunPublic
    from shared.runs.service import StartedRun, StreamItem

# Run error codes that are the client's or capacity problems rather than ours.
_RUN_ERROR_STATUS = {
    "rate_limited": 429,
    "model_unavailable": 503,
    "timeout": 504,
    "usage_limit_exceeded": 400,
}


class RunFailed(ServiceError):
    """The run ended failed: its error code and message, with the run id to look it up."""

    def __init__(self, run: RunPublic) -> None:
        error = run.error
        code = error.code if error is not None else "run_failed"
        super().__init__(
            error.message if error is not None else "the run failed", code=code, details={"run_id": run.id}
        )
        self.status = _RUN_ERROR_STATUS.get(code, 500)  # pyright: ignore[reportAttributeAccessIssue]


@dataclass
class PreparedRun:
    started: StartedRun
    agent: AgentRecord
    history: list[Any] | None


@dataclass
class Outcome:
    """A finished run and the tool calls it made (with their results), in order."""

    run: RunPublic
    tool_calls: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])


def start(
    principal: Principal,
    agent: AgentRecord,
    conversation: Conversation,
    *,
    stream: bool,
    session_id: str | None = None,
) -> PreparedRun:
    from shared.runs.schemas import RunCreate
    from shared.runs.service import start_run

    body = RunCreate(
        agent_id=agent.id,
        input=conversation.input,
        session_id=session_id,
        mode="stream" if stream else "sync",
    )
    started = start_run(principal, body)
    history = None if session_id is not None else (conversation.history or None)
    return PreparedRun(started, agent, history)


def items(prepared: PreparedRun, *, stream: bool) -> AsyncIterator[StreamItem]:
    from shared.runs.service import execute_run

    started = prepared.started
    return execute_run(
        started.record,
        definition=started.definition,
        session_revision=started.session_revision,
        stream=stream,
        history=prepared.history,
    )


def run_to_end(prepared: PreparedRun) -> Outcome:
    """Execute the run (not streamed) and collect its tool calls."""
    from shared import aio
    from shared.runs.schemas import RunPublic

    async def drain() -> Outcome:
        calls: dict[str, dict[str, Any]] = {}
        final: RunPublic | None = None
        async for item in items(prepared, stream=False):
            if item.type == "tool.call":
                calls[str(item.data["tool_call_id"])] = dict(item.data)
            elif item.type == "tool.result":
                call = calls.setdefault(str(item.data["tool_call_id"]), {"args": {}, **item.data})
                call["result"] = item.data.get("content")
                call["outcome"] = item.data.get("outcome", "success")
            elif item.type in ("run.completed", "run.failed"):
                final = RunPublic.model_validate(item.data["run"])
        assert final is not None
        return Outcome(final, list(calls.values()))

    return aio.run(drain())
