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
    from shared.runs.schemas import RunPublic, RunRecord
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


class RunPaused(ServiceError):
    """Chat Completions has no way to ask for a tool approval: the paused run is reported as
    a 409 naming the run, whose calls are decided with ``POST /runs/{run_id}/approvals``."""

    status = 409
    code = "requires_action"

    def __init__(self, run: RunPublic) -> None:
        super().__init__(
            f"the run waits for approval of tool calls: decide them with POST /runs/{run.id}/approvals "
            "(the Responses API shows them as mcp_approval_request items)",
            details={"run_id": run.id},
        )


@dataclass
class PreparedRun:
    started: StartedRun
    agent: AgentRecord
    history: list[Any] | None
    # A paused run continued after decisions (``resume_paused``): ``resumed`` when it runs on,
    # else it still waits for other decisions (the stream is just its paused state).
    resumed: bool = False
    still_waiting: bool = False
    # The calls it paused on, by tool call id (their approval requests, for the output items).
    decided: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass
class Decision:
    """A client's answer to one approval request of a paused run."""

    tool_call_id: str
    approve: bool
    reason: str | None = None


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


def resume_paused(
    principal: Principal, agent: AgentRecord, run: RunRecord, decisions: list[Decision], *, stream: bool
) -> PreparedRun:
    """Record the decisions on a paused run (``shared.runs.approvals``, the same checks as
    ``POST /runs/{id}/approvals``; the arguments are those of the pending call the client
    answers); when none is left open the run continues in this request."""
    from shared import aio
    from shared.runs import approvals
    from shared.runs.service import StartedRun

    pending = {i.tool_call_id: i for i in (run.required_action.items if run.required_action else [])}
    body = approvals.ApprovalsCreate(
        decisions=[
            approvals.ApprovalDecision(
                tool_call_id=d.tool_call_id,
                approve=d.approve,
                # No such pending call (the run is no longer waiting): ``decide`` refuses it.
                args_sha256=pending[d.tool_call_id].args_sha256 if d.tool_call_id in pending else "0" * 64,
                reason=d.reason,
            )
            for d in decisions
        ],
        mode="stream" if stream else "sync",
    )
    decided = approvals.decide(principal, run.id, body, None)
    aio.run(approvals.record_decisions(decided))
    if not decided.resumed:
        waiting = StartedRun(decided.record, False)
        return PreparedRun(waiting, agent, None, still_waiting=True, decided=pending)
    revision = approvals.hold_session(decided.record)
    started = StartedRun(decided.record, True, None, revision)
    return PreparedRun(started, agent, None, resumed=True, decided=pending)


async def _waiting(run: RunPublic) -> AsyncIterator[StreamItem]:
    from shared.runs.service import StreamItem

    yield StreamItem(None, "run.requires_action", {"run": run.model_dump(mode="json")})


def items(prepared: PreparedRun, *, stream: bool) -> AsyncIterator[StreamItem]:
    from shared.runs.service import execute_run

    started = prepared.started
    if prepared.still_waiting:
        return _waiting(started.record.public())
    return execute_run(
        started.record,
        definition=started.definition,
        session_revision=started.session_revision,
        stream=stream,
        history=prepared.history,
        event_start=None if prepared.resumed else 0,
        resume=prepared.resumed,
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
            elif item.type in ("run.completed", "run.failed", "run.requires_action"):
                final = RunPublic.model_validate(item.data["run"])
        assert final is not None
        return Outcome(final, list(calls.values()))

    return aio.run(drain())
