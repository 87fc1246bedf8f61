"""AG-UI's interrupt convention for tool approvals, on our paused runs.

Outbound: a run that pauses (``requires_action``) ends with ``RUN_FINISHED`` whose outcome is
``{"type": "interrupt", "interrupts": [...]}`` — pydantic-ai's AG-UI encoder builds one
interrupt per waiting call (``reason: "tool_call"``, ``toolCallId``, ``message``,
``responseSchema``). We name the run in each interrupt id (``int-<run id>.<tool call id>``: a
resume then finds the run with one read, whatever thread it came from), add ``expiresAt``
(when the approval expires) and drop ``editedArgs`` from the advertised answer schema (a
decision approves the arguments that were shown, never edited ones).

Inbound: a ``RunAgentInput`` with ``resume`` entries answers them. Every open interrupt of the
run must be answered (as ``@ag-ui/client`` also insists); ``status: "cancelled"`` or
``payload.approved: false`` denies (``payload.reason`` is passed to the model),
``approved: true`` approves. The decisions are recorded exactly like
``POST /runs/{id}/approvals`` (one transaction, all or nothing, by the token's user; the
arguments hash is the pending call's) and the same run continues in this request's stream.
The request's ``messages`` are not used: the run continues from its stored conversation
(which holds the history the first request sent). Malformed answers are a 4xx before anything
is decided.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shared.errors import BadRequest, ValidationFailed
from shared.openai_compat import runner

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal
    from shared.runs.service import StreamItem

INTERRUPT_PREFIX = "int-"
_NOT_ALLOWED = {"editedArgs"}


def interrupt_id(run_id: str, tool_call_id: str) -> str:
    return f"{INTERRUPT_PREFIX}{run_id}.{tool_call_id}"


def _parse_id(value: str, param: str) -> tuple[str, str]:
    run_id, dot, tool_call_id = value.removeprefix(INTERRUPT_PREFIX).partition(".")
    if not value.startswith(INTERRUPT_PREFIX) or not dot or not run_id or not tool_call_id:
        raise ValidationFailed.field(param, "not an interrupt id of this service")
    return run_id, tool_call_id


class PausedRun:
    """Watches a run's stream for its pause and rewrites the interrupts of ``RUN_FINISHED``."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.expires: dict[str, str] = {}

    async def watch(self, items: AsyncIterator[StreamItem]) -> AsyncIterator[StreamItem]:
        try:
            async for item in items:
                if item.type == "run.requires_action":
                    from shared.runs.schemas import RunPublic

                    run = RunPublic.model_validate(item.data["run"])
                    for pending in run.required_action.items if run.required_action else []:
                        self.expires[pending.tool_call_id] = pending.expires_at.isoformat()
                yield item
        finally:
            aclose: Any = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()

    def adjust(self, event: Any) -> Any:
        outcome: Any = getattr(event, "outcome", None)
        if getattr(outcome, "type", None) != "interrupt":
            return event
        for interrupt in outcome.interrupts:
            call_id = str(interrupt.tool_call_id)
            interrupt.id = interrupt_id(self.run_id, call_id)
            interrupt.expires_at = self.expires.get(call_id)
            schema = dict(interrupt.response_schema or {})
            if "properties" in schema:
                schema["properties"] = {
                    k: v for k, v in schema["properties"].items() if k not in _NOT_ALLOWED
                }
            interrupt.response_schema = schema
        return event


def _decision(entry: Any, index: int) -> tuple[bool, str | None]:
    """(approve, reason) of one resume entry (400 naming the entry when it is malformed)."""
    param = f"resume.{index}.payload"
    if entry.status == "cancelled":
        return False, "Cancelled by the user."
    payload = entry.payload
    if not isinstance(payload, dict):
        raise ValidationFailed.field(param, "must be an object {approved, reason?}")
    fields: dict[str, Any] = dict(payload)  # pyright: ignore[reportUnknownArgumentType]
    if fields.get("editedArgs") is not None:
        raise BadRequest(
            "edited arguments are not supported: approve or deny the call that was shown",
            code="unsupported_parameter",
            details={"param": f"{param}.editedArgs"},
        )
    approved = fields.get("approved")
    if not isinstance(approved, bool):
        raise ValidationFailed.field(f"{param}.approved", "must be true or false")
    reason = fields.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        raise ValidationFailed.field(f"{param}.reason", "must be a string of at most 2000 characters")
    return approved, reason


def resume(principal: Principal, agent: AgentRecord, entries: list[Any]) -> runner.PreparedRun:
    """Decide the interrupts the entries answer and continue their run (module docstring)."""
    from shared.errors import Conflict
    from shared.runs.repository import get_run_for

    run_ids: set[str] = set()
    answers: list[runner.Decision] = []
    for index, entry in enumerate(entries):
        run_id, tool_call_id = _parse_id(str(entry.interrupt_id), f"resume.{index}.interruptId")
        run_ids.add(run_id)
        approve, reason = _decision(entry, index)
        answers.append(runner.Decision(tool_call_id, approve, reason))
    if len(run_ids) != 1:
        raise ValidationFailed.field("resume", "the entries answer interrupts of different runs")
    run = get_run_for(principal, run_ids.pop())
    if run.agent_id != agent.id:
        raise ValidationFailed.field("resume", "the interrupts belong to another agent's run")
    if run.status != "requires_action" or run.required_action is None:
        code = "run_finished" if run.finished else "run_not_waiting"
        raise Conflict("the run is not waiting for these interrupts", code=code, details={"run_id": run.id})
    decided = {d.tool_call_id for d in run.approvals}
    open_ids = {i.tool_call_id for i in run.required_action.items} - decided
    answered = [a.tool_call_id for a in answers]
    if len(set(answered)) != len(answered):
        raise ValidationFailed.field("resume", "an interrupt is answered twice")
    unknown = sorted(set(answered) - open_ids)
    if unknown:
        raise ValidationFailed.field("resume", f"no open interrupt for tool call {unknown[0]}")
    missing = sorted(open_ids - set(answered))
    if missing:
        raise ValidationFailed.field(
            "resume", "answer every open interrupt: " + ", ".join(interrupt_id(run.id, m) for m in missing)
        )
    return runner.resume_paused(principal, agent, run, answers, stream=True)
