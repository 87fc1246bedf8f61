"""The execution core: run one agent once and report what happens as run events.

Every run mode uses it — sync and stream (``shared.runs.service``), async (the worker) and
workflow steps::

    execution = Execution(spec, should_cancel=check)
    async for event in execution.events():      # text.delta, tool.call, tool.result
        ...
    outcome = execution.result                  # status, output, usage, cost, error, messages

It is built on ``agent.iter`` so ``should_cancel`` (an async callable) is consulted before
every graph step (model request, tool calls); when it returns True the run stops and ends
``cancelled`` with the usage so far. Failures never raise out of ``events()``: they end the
run ``failed`` with a classified ``error`` (``shared.execution.errors``). If the consumer
stops iterating (client disconnected), ``execution.usage()`` still reports usage so far.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from shared.agents.definition import AgentDefinition, Limits
from shared.errors import ServiceError, ValidationFailed
from shared.execution.durable import Resume, StepRecorder
from shared.execution.errors import CANCELLED, CONTENT_FILTERED, RunError, classify
from shared.runs.schemas import FinishReason

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from shared.execution.factory import BuiltAgent

_log = logging.getLogger(__name__)

# step.* events come from workflow agents (shared.execution.workflow).
EventType = Literal["text.delta", "tool.call", "tool.result", "step.started", "step.completed", "step.failed"]
CancelCheck = Callable[[], Awaitable[bool]]
Status = Literal["succeeded", "failed", "cancelled", "requires_action"]
# Stores one step of the run's conversation (its new messages and the usage so far).
SaveStep = Callable[[list["ModelMessage"], Any], Awaitable[None]]


class UsageTotals(BaseModel):
    """What a run consumed (the run record's ``usage``)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    # Part of output_tokens: what the model spent thinking, where the provider reports it.
    thinking_tokens: int = 0

    def plus(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            requests=self.requests + other.requests,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            tool_calls=self.tool_calls + other.tool_calls,
            thinking_tokens=self.thinking_tokens + other.thinking_tokens,
        )


@dataclass
class ExecutionSpec:
    """Everything needed to run an agent definition once."""

    run_id: str
    owner_id: str
    definition: AgentDefinition
    input: str | Sequence[dict[str, Any]]
    history: list[ModelMessage] | None = None
    requested_limits: Limits | None = None
    on_file_written: Callable[[str], None] | None = None
    # Continue a stored conversation instead of starting from ``input`` (``shared.execution.durable``).
    resume: Resume | None = None
    # Checkpoint each model response with tool calls and each batch of tool results.
    save_step: SaveStep | None = None
    # A replay (``shared.runs.replay.ReplayTape``): recorded responses and tool results, $0.
    replay: Any = None


@dataclass
class ExecutionEvent:
    """One run event. ``type`` None = a pydantic-ai event with no run-event form (``native`` only)."""

    type: EventType | None
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    native: Any = None


@dataclass
class ExecutionResult:
    status: Status
    output: Any = None
    usage: UsageTotals = field(default_factory=UsageTotals)
    cost_usd: float | None = None
    error: RunError | None = None
    # This run's new messages in pydantic-ai's serialized form (for sessions); None unless succeeded.
    new_messages_json: bytes | None = None
    duration_ms: int = 0
    finish_reason: FinishReason | None = None
    # status requires_action: the calls waiting for a decision, and the run's messages not yet
    # checkpointed with pydantic-ai's usage (stored with the pause).
    pending: Any = None
    unsaved_messages: list[Any] = field(default_factory=list[Any])
    native_usage: Any = None


def prompt_from_input(value: str | Sequence[dict[str, Any]]) -> str | list[Any]:
    """A run ``input`` (string or text/image parts) → a pydantic-ai user prompt.

    Image parts become ``BinaryContent`` (bytes + media type).
    """
    if isinstance(value, str):
        return value
    from pydantic_ai.messages import BinaryContent

    content: list[Any] = []
    for index, part in enumerate(value):
        kind = part.get("type")
        if kind == "text":
            content.append(str(part.get("text", "")))
        elif kind == "image":
            try:
                data = base64.b64decode(str(part.get("data", "")), validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed.field(f"input.{index}.data", "not valid base64") from None
            content.append(BinaryContent(data=data, media_type=str(part.get("mime_type"))))
        else:
            raise ValidationFailed.field(f"input.{index}.type", "unknown input part type")
    return content


def _json_safe(value: Any) -> Any:
    import pydantic_core

    try:
        return pydantic_core.to_jsonable_python(value)
    except pydantic_core.PydanticSerializationError:
        return str(value)


class Execution:
    """One execution of an agent (see the module docstring)."""

    def __init__(
        self,
        spec: ExecutionSpec,
        *,
        should_cancel: CancelCheck | None = None,
        built: BuiltAgent | None = None,
        stream: bool = True,
    ) -> None:
        self.spec = spec
        self.should_cancel = should_cancel
        # stream=False: one plain (non-streamed) model request per step; events are derived
        # from each step's messages (sync runs: fewer, larger events).
        self.stream = stream
        self._built = built
        self._run: Any = None
        self._started = time.monotonic()
        self.result: ExecutionResult | None = None
        self.steps = StepRecorder(spec)

    # -- usage --------------------------------------------------------------------------------

    def usage(self) -> UsageTotals:
        """Usage so far (also after the consumer stopped early); a replay uses nothing."""
        run_usage = self._run.usage if self._run is not None else None
        if run_usage is None or self.spec.replay is not None:
            return UsageTotals()
        return UsageTotals(
            requests=run_usage.requests,
            input_tokens=run_usage.input_tokens,
            output_tokens=run_usage.output_tokens,
            tool_calls=run_usage.tool_calls,
            thinking_tokens=_thinking_tokens(run_usage),
        )

    def unsaved_messages(self) -> tuple[list[Any], Any]:
        """The run's messages not checkpointed yet and pydantic-ai's usage (stored at the end)."""
        if self._run is None:
            return [], None
        try:
            return self.steps.unsaved(self._run), self._run.usage
        except Exception:  # pragma: no cover - a run that failed before its first step
            return [], None

    def finish_reason(self) -> FinishReason | None:
        """Why the model stopped its last response (None before any response)."""
        if self._run is None:
            return None
        from pydantic_ai.messages import ModelResponse

        try:
            messages: list[Any] = list(self._run.ctx.state.message_history)
        except AttributeError:  # pragma: no cover - pydantic-ai internals moved
            return None
        last = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
        if last is None:
            return None
        if last.tool_calls and last.finish_reason in (None, "stop"):
            # Gemini ends a functionCall turn with STOP; Claude says tool_use: one value for both.
            return "tool_call"
        return last.finish_reason or "stop"

    def cost_usd(self) -> float | None:
        """pydantic-ai's cost (genai-prices / the offline model), else the catalog list prices."""
        run_usage = self._run.usage if self._run is not None else None
        if run_usage is None or self.spec.replay is not None:
            return 0.0
        if run_usage.cost is not None:
            return round(float(run_usage.cost), 8)
        model = self.spec.definition.model
        if model is None:
            return None
        from shared.execution.models import pricing_for

        pricing = pricing_for(model)
        if pricing.input_per_mtok is None or pricing.output_per_mtok is None:
            return None
        cost = (
            run_usage.input_tokens * pricing.input_per_mtok
            + run_usage.output_tokens * pricing.output_per_mtok
        ) / 1_000_000
        return round(cost, 8)

    def finish(self, status: Status, error: RunError | None = None, output: Any = None) -> ExecutionResult:
        """Record the outcome (also used by callers that stop the run early)."""
        self.result = ExecutionResult(
            status=status,
            output=output,
            usage=self.usage(),
            cost_usd=self.cost_usd(),
            error=error,
            duration_ms=int((time.monotonic() - self._started) * 1000),
            finish_reason=self.finish_reason(),
        )
        return self.result

    # -- running ------------------------------------------------------------------------------

    def _build(self) -> BuiltAgent:
        if self._built is None:
            from shared.execution.factory import build_agent

            self._built = build_agent(
                self.spec.definition,
                owner_id=self.spec.owner_id,
                run_id=self.spec.run_id,
                requested_limits=self.spec.requested_limits,
                on_file_written=self.spec.on_file_written,
                replay=self.spec.replay,
            )
        return self._built

    async def events(self) -> AsyncIterator[ExecutionEvent]:
        """Run the agent, yielding events as they happen; ``self.result`` is set at the end."""
        from pydantic_ai import Agent
        from pydantic_ai.run import AgentRunResultEvent

        self._started = time.monotonic()
        try:
            built = self._build()
            prompt = prompt_from_input(self.spec.input)
        except ServiceError as exc:
            self.finish("failed", RunError(exc.error_code, exc.message))
            return
        except Exception:
            _log.exception("could not build the agent", extra={"run_id": self.spec.run_id})
            self.finish("failed", RunError("internal", "the agent could not be prepared"))
            return
        try:
            async with built.agent.iter(
                None if self.steps.resuming else prompt,
                deps=built.deps,
                message_history=self.steps.history() or None,
                deferred_tool_results=self.steps.deferred_results(),
                usage=self.steps.usage(),
                usage_limits=built.usage_limits,
                model_settings=built.model_settings,
                timeout=built.timeout,
            ) as run:
                self._run = run
                async for node in run:
                    await self.steps.after_step(run, node)
                    if self.should_cancel is not None and await self.should_cancel():
                        self.finish("cancelled", CANCELLED)
                        return
                    if not self.stream:
                        for event in _step_events(node):
                            yield event
                    elif Agent.is_model_request_node(node) or Agent.is_call_tools_node(node):
                        async with node.stream(run.ctx) as stream:
                            async for native in stream:
                                yield self._to_event(native)
                    self._check_catalog_cost(built)
                result = run.result
            if result is None:  # pragma: no cover - iter always ends with a result
                self.finish("failed", RunError("internal", "the run ended without a result"))
                return
            yield ExecutionEvent(None, native=AgentRunResultEvent(result=result))
            if self.steps.is_pause(result.output):
                paused = self.finish("requires_action")
                paused.pending = result.output
                paused.unsaved_messages = self.steps.unsaved(run)
                paused.native_usage = run.usage
                return
            if self.finish_reason() == "content_filter":
                # A refusal after some text (Claude stop_reason "refusal"): the answer is not one.
                self.finish("failed", CONTENT_FILTERED)
                return
            output = _json_safe(result.output)
            self.finish("succeeded", output=output)
            if self.result is not None and self.result.finish_reason == "tool_call":
                # Structured output arrives as a call to the output tool: a complete answer.
                self.result.finish_reason = "stop"
            if self.result is not None:
                self.result.new_messages_json = self.steps.run_messages_json(run)
        except Exception as exc:
            error = classify(exc, max_tokens=_max_tokens(self._built))
            if error.code == "internal":
                _log.exception("run failed unexpectedly", extra={"run_id": self.spec.run_id})
            else:
                _log.info("run failed: %s", error.code, extra={"run_id": self.spec.run_id})
            self.finish("cancelled" if error.code == "cancelled" else "failed", error)

    def _check_catalog_cost(self, built: BuiltAgent) -> None:
        """Enforce max_cost_usd with catalog prices when pydantic-ai could not price the model."""
        limit = built.limits.max_cost_usd
        if limit is None or self._run is None or self._run.usage.cost is not None:
            return
        cost = self.cost_usd()
        if cost is not None and cost > limit:
            from pydantic_ai.exceptions import UsageLimitExceeded

            raise UsageLimitExceeded(f"Exceeded the `cost_limit` of {limit}")

    def _to_event(self, native: Any) -> ExecutionEvent:
        from pydantic_ai.messages import (
            FunctionToolCallEvent,
            FunctionToolResultEvent,
            PartDeltaEvent,
            PartStartEvent,
            TextPart,
            TextPartDelta,
        )

        if isinstance(native, PartStartEvent) and isinstance(native.part, TextPart) and native.part.content:
            return ExecutionEvent("text.delta", {"delta": native.part.content}, native)
        if (
            isinstance(native, PartDeltaEvent)
            and isinstance(native.delta, TextPartDelta)
            and native.delta.content_delta
        ):
            return ExecutionEvent("text.delta", {"delta": native.delta.content_delta}, native)
        if isinstance(native, FunctionToolCallEvent):
            part = native.part
            return ExecutionEvent(
                "tool.call",
                {
                    "tool_call_id": part.tool_call_id,
                    "name": part.tool_name,
                    "args": _json_safe(_args_of(part)),
                },
                native,
            )
        if isinstance(native, FunctionToolResultEvent):
            part: Any = native.part
            data: dict[str, Any] = {
                "tool_call_id": part.tool_call_id,
                "name": part.tool_name,
                "content": _json_safe(part.content),
            }
            outcome = getattr(part, "outcome", "success")
            if outcome != "success":
                data["outcome"] = outcome
            return ExecutionEvent("tool.result", data, native)
        return ExecutionEvent(None, native=native)


OUTPUT_TOOL_NAME = "final_result"


def _step_events(node: Any) -> list[ExecutionEvent]:
    """Events of a graph step that ran without streaming (from the messages it carries)."""
    from pydantic_ai import Agent
    from pydantic_ai.messages import TextPart, ToolCallPart, ToolReturnPart

    events: list[ExecutionEvent] = []
    if Agent.is_call_tools_node(node):
        for part in node.model_response.parts:
            if isinstance(part, TextPart) and part.content:
                events.append(ExecutionEvent("text.delta", {"delta": part.content}))
            elif isinstance(part, ToolCallPart) and part.tool_name != OUTPUT_TOOL_NAME:
                events.append(
                    ExecutionEvent(
                        "tool.call",
                        {
                            "tool_call_id": part.tool_call_id,
                            "name": part.tool_name,
                            "args": _json_safe(_args_of(part)),
                        },
                    )
                )
    elif Agent.is_model_request_node(node):
        for part in node.request.parts:
            if isinstance(part, ToolReturnPart) and part.tool_name != OUTPUT_TOOL_NAME:
                data: dict[str, Any] = {
                    "tool_call_id": part.tool_call_id,
                    "name": part.tool_name,
                    "content": _json_safe(part.content),
                }
                if part.outcome != "success":
                    data["outcome"] = part.outcome
                events.append(ExecutionEvent("tool.result", data))
    return events


def _thinking_tokens(run_usage: Any) -> int:
    reasoning = int(getattr(run_usage, "output_reasoning_tokens", 0) or 0)
    if reasoning:
        return reasoning
    # Gemini's thoughtsTokenCount, as pydantic-ai keeps it in the details.
    details: dict[str, int] = getattr(run_usage, "details", None) or {}
    return int(details.get("thoughts_tokens", 0) or 0)


def _max_tokens(built: BuiltAgent | None) -> int | None:
    if built is None:
        return None
    value: Any = dict(built.model_settings).get("max_tokens")
    return int(value) if isinstance(value, int) else None


def _args_of(part: Any) -> Any:
    try:
        return part.args_as_dict()
    except Exception:
        return part.args
