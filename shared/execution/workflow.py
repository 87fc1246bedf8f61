"""Workflow agents: a sequential pipeline of other agents, run by the shared execution core.

A definition with ``kind: "workflow"`` lists steps ``{agent_id, name?, input_template}``.
Each step runs its agent (current version, owned by the run's owner) once, as an
``Execution``; its output feeds later steps through the template placeholders
``{{input}}`` (the run's input as text) and ``{{steps[i].output}}`` (an earlier step's
output; JSON for structured output). Substitution is plain text replacement — nothing in a
template is evaluated. A template that is exactly ``{{input}}`` passes the run's input through
unchanged (images included).

Events: ``step.started {step, name, agent_id, agent_version, input}``, then the step's own
events (``text.delta``, ``tool.call``, ``tool.result``) each tagged with ``step``, then
``step.completed {step, name, status, output, usage, cost_usd}`` or ``step.failed {..., error}``.

Outcome: the last step's output; usage and cost summed over the steps; the workflow's own
``limits`` (tightened by the request's) bound the *total* — each step gets what is left.
A failing step fails the run with ``error.code = "step_failed"`` naming the step; a cancelled
step (or a cancellation noticed between steps) cancels the run.

Sessions: the conversation is between the user and the workflow — each turn is the run's
input and the workflow's final output. The first step receives it as message history (so a
follow-up like "shorter, please" has its context); later steps get only what their templates
pass them. A succeeded run appends its turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from shared.agents.definition import Limits, WorkflowStep
from shared.execution.errors import CANCELLED, RunError
from shared.execution.executor import (
    CancelCheck,
    Execution,
    ExecutionEvent,
    ExecutionSpec,
    UsageTotals,
)
from shared.runs.schemas import FinishReason

if TYPE_CHECKING:
    from shared.execution.factory import BuiltAgent

_log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_STEP_REF = re.compile(r"^steps\[(\d{1,3})\]\.output$")
EVENT_INPUT_CHARS = 2000


# -- templates -------------------------------------------------------------------------------


def template_errors(template: str, step_index: int) -> list[str]:
    """Problems with a step's ``input_template`` (unknown placeholder, not an earlier step)."""
    problems: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        expression = match.group(1)
        if expression == "input":
            continue
        ref = _STEP_REF.match(expression)
        if ref is None:
            problems.append(
                f"unknown placeholder '{expression[:40]}' (use {{{{input}}}} or {{{{steps[i].output}}}})"
            )
        elif int(ref.group(1)) >= step_index:
            problems.append(
                f"step {step_index} can only use the output of an earlier step (steps[0..{step_index - 1}])"
            )
    return problems


def input_text(value: str | Sequence[dict[str, Any]]) -> str:
    """The run input as text (a list of parts: its text parts joined by blank lines)."""
    if isinstance(value, str):
        return value
    return "\n\n".join(str(part.get("text", "")) for part in value if part.get("type") == "text")


def output_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_step_input(
    template: str, run_input: str | Sequence[dict[str, Any]], outputs: Sequence[Any]
) -> str | Sequence[dict[str, Any]]:
    """The step's input: placeholders replaced by text (nothing is evaluated)."""
    whole = PLACEHOLDER.fullmatch(template.strip())
    if whole is not None and whole.group(1) == "input":
        return run_input

    def replace(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "input":
            return input_text(run_input)
        ref = _STEP_REF.match(expression)
        if ref is not None and int(ref.group(1)) < len(outputs):
            return output_text(outputs[int(ref.group(1))])
        return match.group(0)  # validated at definition time; left as written otherwise

    return PLACEHOLDER.sub(replace, template)


# -- limits ----------------------------------------------------------------------------------


class BudgetSpent(Exception):
    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


def remaining_limits(limits: Limits, used: UsageTotals, cost: float, elapsed: float) -> Limits:
    """What the next step may still use of the workflow's total limits (``BudgetSpent`` if nothing)."""
    values: dict[str, Any] = {}
    pairs: list[tuple[str, int | None, int, int]] = [
        ("max_requests", limits.max_requests, used.requests, 1),
        ("max_tool_calls", limits.max_tool_calls, used.tool_calls, 0),
        ("max_input_tokens", limits.max_input_tokens, used.input_tokens, 1),
        ("max_output_tokens", limits.max_output_tokens, used.output_tokens, 1),
        ("max_total_tokens", limits.max_total_tokens, used.input_tokens + used.output_tokens, 1),
    ]
    for name, limit, spent, minimum in pairs:
        if limit is None:
            continue
        left = limit - spent
        if left < minimum:
            raise BudgetSpent(name)
        values[name] = left
    if limits.max_cost_usd is not None:
        left_cost = round(limits.max_cost_usd - cost, 8)
        if left_cost <= 0:
            raise BudgetSpent("max_cost_usd")
        values["max_cost_usd"] = left_cost
    if limits.timeout_seconds is not None:
        left_time = limits.timeout_seconds - elapsed
        if left_time <= 0:
            raise BudgetSpent("timeout_seconds")
        values["timeout_seconds"] = left_time
    return Limits.model_validate(values)


# -- execution -------------------------------------------------------------------------------


def _step_label(index: int, step: WorkflowStep) -> str:
    return f"step {index} ('{step.name}')" if step.name else f"step {index}"


class WorkflowExecution(Execution):
    """Runs a workflow definition's steps in order (see the module docstring)."""

    def __init__(
        self,
        spec: ExecutionSpec,
        *,
        should_cancel: CancelCheck | None = None,
        built: BuiltAgent | None = None,
        stream: bool = True,
    ) -> None:
        super().__init__(spec, should_cancel=should_cancel, built=built, stream=stream)
        self._done_usage = UsageTotals()
        self._done_cost: float | None = 0.0
        self._current: Execution | None = None
        self._last_finish: FinishReason | None = None

    def finish_reason(self) -> FinishReason | None:
        """The finish reason of the step running now, else of the last step that ran."""
        if self._current is not None:
            return self._current.finish_reason()
        return self._last_finish

    def usage(self) -> UsageTotals:
        if self._current is None:
            return self._done_usage
        return self._done_usage.plus(self._current.usage())

    def cost_usd(self) -> float | None:
        if self._done_cost is None:
            return None
        if self._current is None:
            return round(self._done_cost, 8)
        current = self._current.cost_usd()
        return None if current is None else round(self._done_cost + current, 8)

    def _fail(self, code: str, message: str) -> None:
        self.finish("failed", RunError(code, message))

    async def events(self) -> AsyncIterator[ExecutionEvent]:
        from shared.agents.repository import load_current
        from shared.execution.factory import effective_limits

        self._started = time.monotonic()
        workflow = self.spec.definition.workflow
        if workflow is None:
            self._fail("internal", "the workflow has no steps")
            return
        limits = effective_limits(self.spec.definition.limits, self.spec.requested_limits)
        outputs: list[Any] = []
        last_index = len(workflow.steps) - 1
        for index, step in enumerate(workflow.steps):
            label = _step_label(index, step)
            if self.should_cancel is not None and await self.should_cancel():
                self.finish("cancelled", CANCELLED)
                return
            records = await asyncio.to_thread(load_current, [step.agent_id])
            record = records.get(step.agent_id)
            if record is None or record.owner_id != self.spec.owner_id or record.definition.kind != "agent":
                self._fail("step_failed", f"{label} failed: its agent is missing or not runnable")
                return
            try:
                step_limits = remaining_limits(
                    limits, self.usage(), self.cost_usd() or 0.0, time.monotonic() - self._started
                )
            except BudgetSpent as spent:
                code = "run_timeout" if spent.limit == "timeout_seconds" else "usage_limit_exceeded"
                self._fail(code, f"the workflow reached its {spent.limit} limit before {label}")
                return
            step_input = render_step_input(step.input_template, self.spec.input, outputs)
            shown = step_input if isinstance(step_input, str) else input_text(step_input)
            yield ExecutionEvent(
                "step.started",
                {
                    "step": index,
                    "name": step.name,
                    "agent_id": record.id,
                    "agent_version": record.version,
                    "input": shown[:EVENT_INPUT_CHARS],
                },
            )
            inner = Execution(
                ExecutionSpec(
                    run_id=self.spec.run_id,
                    owner_id=self.spec.owner_id,
                    definition=record.definition,
                    input=step_input,
                    history=self.spec.history if index == 0 else None,
                    requested_limits=step_limits,
                    on_file_written=self.spec.on_file_written,
                ),
                should_cancel=self.should_cancel,
                stream=self.stream,
            )
            self._current = inner
            async for event in inner.events():
                if event.type is None:
                    # Only the last step's final result is the workflow's (Vercel stream end).
                    if index == last_index or type(event.native).__name__ != "AgentRunResultEvent":
                        yield event
                    continue
                yield ExecutionEvent(event.type, {**event.data, "step": index}, event.native)
            outcome = inner.result
            self._current = None
            self._last_finish = outcome.finish_reason if outcome is not None else None
            if outcome is None:  # pragma: no cover - events() always sets a result
                self._fail("step_failed", f"{label} failed: it ended without a result")
                return
            self._done_usage = self._done_usage.plus(outcome.usage)
            self._done_cost = (
                None
                if self._done_cost is None or outcome.cost_usd is None
                else self._done_cost + outcome.cost_usd
            )
            summary: dict[str, Any] = {
                "step": index,
                "name": step.name,
                "status": outcome.status,
                "output": outcome.output,
                "usage": outcome.usage.model_dump(),
                "cost_usd": outcome.cost_usd,
                "finish_reason": outcome.finish_reason,
            }
            if outcome.status != "succeeded":
                summary["error"] = outcome.error.as_dict() if outcome.error else None
                yield ExecutionEvent("step.failed", summary)
                if outcome.status == "cancelled":
                    self.finish("cancelled", outcome.error or CANCELLED)
                elif outcome.status == "requires_action":
                    # Refused when the workflow is stored; the step's agent gained such a tool since.
                    message = f"{label} asked for approval of a tool call; workflow steps cannot pause"
                    self.finish("failed", RunError("approval_not_supported", message))
                else:
                    reason = outcome.error.message if outcome.error else "it failed"
                    code = outcome.error.code if outcome.error else "failed"
                    error = RunError(
                        "step_failed",
                        f"{label} failed ({code}): {reason}",
                        transient=bool(outcome.error and outcome.error.transient),
                    )
                    self.finish("failed", error)
                return
            yield ExecutionEvent("step.completed", summary)
            outputs.append(outcome.output)
        result = self.finish("succeeded", output=outputs[-1] if outputs else None)
        if outputs:
            result.new_messages_json = _turn_json(self.spec.input, outputs[-1])


def _turn_json(run_input: str | Sequence[dict[str, Any]], output: Any) -> bytes:
    """The session's record of one workflow turn: the run's input and the final output."""
    from pydantic_ai.messages import (
        ModelMessagesTypeAdapter,
        ModelRequest,
        ModelResponse,
        TextPart,
        UserPromptPart,
    )

    from shared.execution.executor import prompt_from_input

    turn = [
        ModelRequest(parts=[UserPromptPart(content=prompt_from_input(run_input))]),
        ModelResponse(parts=[TextPart(content=output_text(output))]),
    ]
    return ModelMessagesTypeAdapter.dump_json(turn)
