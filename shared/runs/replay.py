"""Replaying a recorded run at $0: its model responses and tool results played back in order.

A run's conversation is stored step by step (``shared.runs.checkpoints``): every model
request, response and tool result. A replay executes the run again through the same code
path — the agent built from the (pinned) version, its tools' definitions, output validation,
the run lifecycle — but the model is a ``FunctionModel`` that answers each request with the
recorded response, and each tool call returns the recorded result instead of running (no
model call, no tool side effect, cost 0).

Before it answers model request *k*, the tape checks that the replay got where the recording
was: the request the agent sends now equals recorded request *k* (same parts: prompt, tool
results, retries), the instructions are the same, and every tool the recorded response calls
is still offered. The first difference is a *divergence*: the replay stops there and reports
the step, the message index and what differed (``ReplayDiverged`` → the run fails with
``replay_diverged``). A replay that ends early, asks for more than was recorded, or ends with
a different outcome diverges too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from shared.errors import Conflict

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse

OUTPUT_TOOL_NAME = "final_result"
_SHOWN_CHARS = 2_000


class ReplayDiverged(Conflict):
    """The replay left the recorded path (ends the run ``failed`` with this code)."""

    code = "replay_diverged"


@dataclass
class Divergence:
    """Where a replay first differed from its recording."""

    step: int  # the model request (0-based) at which it happened
    message_index: int  # the index in the recorded conversation (GET /runs/{id}/messages)
    reason: str
    detail: str
    expected: Any = None
    actual: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "message_index": self.message_index,
            "reason": self.reason,
            "detail": self.detail,
            "expected": _shown(self.expected),
            "actual": _shown(self.actual),
        }


def _shown(value: Any) -> Any:
    text = json.dumps(value, default=str)
    return value if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


@dataclass
class _Turn:
    """One model call of the recording: the request(s) sent and the response received."""

    request_index: int
    requests: list[ModelRequest]
    response_index: int
    response: ModelResponse


def _canonical_part(part: Any) -> dict[str, Any]:
    import pydantic_core

    kind = str(getattr(part, "part_kind", type(part).__name__))
    shown: dict[str, Any] = {"kind": kind}
    for name in ("tool_name", "tool_call_id", "outcome"):
        value = getattr(part, name, None)
        # A denied call is replayed as its recorded denial message (the decision is not asked again).
        if value is not None and not (name == "outcome" and value in ("success", "denied")):
            shown[name] = value
    content = getattr(part, "content", None)
    try:
        shown["content"] = pydantic_core.to_jsonable_python(content, fallback=str)
    except pydantic_core.PydanticSerializationError:
        shown["content"] = str(content)
    return shown


def request_parts(requests: list[Any]) -> list[dict[str, Any]]:
    """What a model request says, without timestamps (the parts compared step by step)."""
    return [
        _canonical_part(p)
        for r in requests
        for p in r.parts
        if getattr(p, "part_kind", "") != "system-prompt"
    ]


def _first_difference(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> tuple[Any, Any]:
    for index in range(max(len(expected), len(actual))):
        e = expected[index] if index < len(expected) else None
        a = actual[index] if index < len(actual) else None
        if _key(e) != _key(a):
            return e, a
    return expected, actual


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class ReplayTape:
    """A recorded conversation, played back by ``model()`` and ``capability()``."""

    source_run_id: str
    messages: list[ModelMessage]
    recorded_status: str
    recorded_output: Any = None
    recorded_error_code: str | None = None
    # Forks start from a copied conversation prefix: the responses in it are not replayed.
    start_step: int = 0
    turns: list[_Turn] = field(default_factory=list["_Turn"])
    results: dict[str, Any] = field(default_factory=dict[str, Any])
    step: int = 0
    tool_results_used: int = 0
    divergence: Divergence | None = None

    def __post_init__(self) -> None:
        from pydantic_ai.messages import ModelRequest, ModelResponse, ToolReturnPart

        pending: list[tuple[int, ModelRequest]] = []
        for index, message in enumerate(self.messages):
            if isinstance(message, ModelRequest):
                pending.append((index, message))
                for part in message.parts:
                    if isinstance(part, ToolReturnPart) and part.tool_name != OUTPUT_TOOL_NAME:
                        self.results[part.tool_call_id] = part
            elif isinstance(message, ModelResponse):  # pyright: ignore[reportUnnecessaryIsInstance]
                first = pending[0][0] if pending else index
                self.turns.append(_Turn(first, [r for _, r in pending], index, message))
                pending = []
        self.step = self.start_step

    @classmethod
    def for_run(cls, source: Any, messages: list[ModelMessage], prefix_messages: int = 0) -> ReplayTape:
        from pydantic_ai.messages import ModelResponse

        start = sum(1 for m in messages[:prefix_messages] if isinstance(m, ModelResponse))
        error = source.error.code if source.error is not None else None
        return cls(
            source_run_id=source.id,
            messages=messages,
            recorded_status=source.status,
            recorded_output=source.output,
            recorded_error_code=error,
            start_step=start,
        )

    # -- divergence ----------------------------------------------------------------------------

    def diverge(
        self, reason: str, detail: str, *, index: int, expected: Any = None, actual: Any = None
    ) -> NoReturn:
        if self.divergence is None:
            self.divergence = Divergence(self.step, index, reason, detail, expected, actual)
        raise ReplayDiverged(
            f"the replay diverged at step {self.divergence.step}: {self.divergence.detail}",
            details={"step": self.divergence.step, "reason": self.divergence.reason},
        )

    # -- the model -----------------------------------------------------------------------------

    def _answer(self, messages: list[ModelMessage], info: Any) -> ModelResponse:
        from pydantic_ai.messages import ModelResponse

        if self.divergence is not None:
            self.diverge(self.divergence.reason, self.divergence.detail, index=self.divergence.message_index)
        current: list[ModelRequest] = []
        for message in reversed(messages):
            if isinstance(message, ModelResponse):
                break
            current.insert(0, message)
        if self.step >= len(self.turns):
            self.diverge(
                "extra_model_request",
                f"the agent asked the model a request {self.step + 1} times; the recording has "
                f"{len(self.turns)}",
                index=len(self.messages),
                actual=request_parts(current),
            )
        turn = self.turns[self.step]
        expected, actual = request_parts(turn.requests), request_parts(current)
        if _key(expected) != _key(actual):
            e, a = _first_difference(expected, actual)
            self.diverge(
                "request_changed",
                "the request sent to the model differs from the recorded one",
                index=turn.request_index,
                expected=e,
                actual=a,
            )
        recorded_instructions = turn.requests[-1].instructions if turn.requests else None
        if recorded_instructions is not None and (info.instructions or None) != recorded_instructions:
            self.diverge(
                "instructions_changed",
                "the agent's instructions differ from the recorded ones (another version?)",
                index=turn.request_index,
                expected=recorded_instructions,
                actual=info.instructions,
            )
        offered = {t.name for t in [*info.function_tools, *info.output_tools]}
        for call in turn.response.tool_calls:
            if call.tool_name not in offered:
                self.diverge(
                    "tool_missing",
                    f"the recorded response calls the tool '{call.tool_name}', which the agent no "
                    "longer offers",
                    index=turn.response_index,
                    expected=call.tool_name,
                    actual=sorted(offered),
                )
        self.step += 1
        return copy.deepcopy(turn.response)

    def model(self) -> Any:
        """The model of a replay: the recorded responses, streamed or not."""
        from pydantic_ai.messages import TextPart, ThinkingPart, ToolCallPart
        from pydantic_ai.models.function import (
            DeltaThinkingPart,
            DeltaToolCall,
            FunctionModel,
        )

        async def answer(messages: list[ModelMessage], info: Any) -> Any:
            return self._answer(messages, info)

        async def stream(messages: list[ModelMessage], info: Any) -> AsyncIterator[Any]:
            response = self._answer(messages, info)
            for index, part in enumerate(response.parts):
                if isinstance(part, TextPart):
                    yield part.content
                elif isinstance(part, ToolCallPart):
                    yield {
                        index: DeltaToolCall(
                            name=part.tool_name,
                            json_args=part.args_as_json_str(),
                            tool_call_id=part.tool_call_id,
                        )
                    }
                elif isinstance(part, ThinkingPart):
                    yield {index: DeltaThinkingPart(content=part.content)}

        return FunctionModel(answer, stream_function=stream, model_name="replay")

    # -- the tools -----------------------------------------------------------------------------

    def tool_result(self, call: Any) -> Any:
        """The recorded result of a tool call (``ModelRetry``/``ToolFailed`` as recorded)."""
        from pydantic_ai.exceptions import ModelRetry, ToolFailed

        part = self.results.get(call.tool_call_id)
        if part is None or part.tool_name != call.tool_name:
            self.diverge(
                "tool_result_missing",
                f"the tool call '{call.tool_name}' ({call.tool_call_id}) has no recorded result",
                index=len(self.messages),
                expected=None,
                actual={"tool_name": call.tool_name, "tool_call_id": call.tool_call_id},
            )
        self.tool_results_used += 1
        content = copy.deepcopy(part.content)
        if part.outcome == "retried":
            raise ModelRetry(content if isinstance(content, str) else json.dumps(content, default=str))
        if part.outcome == "failed":
            raise ToolFailed(content if isinstance(content, str) else json.dumps(content, default=str))
        return content

    def capability(self) -> Any:
        """A capability that answers every tool call from the recording (the tool never runs)."""
        from pydantic_ai.capabilities import AbstractCapability

        tape = self

        class ReplayedTools(AbstractCapability[Any]):
            async def wrap_tool_execute(
                self, ctx: Any, *, call: Any, tool_def: Any, args: Any, handler: Any
            ) -> Any:
                return tape.tool_result(call)

        return ReplayedTools()

    # -- the report ----------------------------------------------------------------------------

    def finish(self, status: str, output: Any, error_code: str | None) -> dict[str, Any]:
        """The run's ``replay`` report, once the replay ended (checks the outcome too)."""
        if self.divergence is None and error_code != ReplayDiverged.code:
            last = self.turns[-1].response_index if self.turns else 0
            try:
                if self.step < len(self.turns) and status != "cancelled":
                    self.diverge(
                        "ended_early",
                        f"the replay ended after {self.step} model requests; the recording has "
                        f"{len(self.turns)}",
                        index=self.turns[self.step].request_index,
                    )
                if status != self.recorded_status:
                    self.diverge(
                        "outcome_changed",
                        f"the replay ended {status}; the recorded run ended {self.recorded_status}",
                        index=last,
                        expected=self.recorded_status,
                        actual=status,
                    )
                if status == "succeeded" and _key(output) != _key(self.recorded_output):
                    self.diverge(
                        "output_changed",
                        "the replay's output differs from the recorded output",
                        index=last,
                        expected=self.recorded_output,
                        actual=output,
                    )
                if status == "failed" and error_code != self.recorded_error_code:
                    self.diverge(
                        "outcome_changed",
                        f"the replay failed with {error_code}; the recorded run with "
                        f"{self.recorded_error_code}",
                        index=last,
                        expected=self.recorded_error_code,
                        actual=error_code,
                    )
            except ReplayDiverged:
                pass
        return {
            "source_run_id": self.source_run_id,
            "matched": self.divergence is None and status != "cancelled",
            "steps_replayed": self.step - self.start_step,
            "steps_recorded": len(self.turns) - self.start_step,
            "tool_results_replayed": self.tool_results_used,
            "divergence": self.divergence.as_dict() if self.divergence is not None else None,
        }
