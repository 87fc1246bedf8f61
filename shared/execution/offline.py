"""The offline model: a deterministic pydantic-ai model for local development and tests.

It needs no credentials and no network. It answers, streams word by word, calls tools and
delegates when the prompt asks it to, returns structured output valid against the output
schema, and reports token usage (and a cost from the catalog prices of the model the agent
names, so cost limits behave as they would on Vertex). The prompt conventions are documented in
``docs/offline-model.md``; others (CLI, console, templates, workflows) rely on them.

Directives are lines of the latest user prompt:

- ``call <tool> <json args>`` — call a tool (one call per line, all in the first response);
- ``output <json>`` — the structured output to return (default: a minimal valid instance);
- ``say <text>`` — the exact text to answer with;
- ``pause <seconds>`` — wait before each response (at most 60 s; cancellable);
- ``gate <name>`` — after the first streamed word, wait until :func:`open_gate` (tests);
- ``fail <status>`` — fail the model request with that HTTP status, or ``timeout``;
- ``finish <reason>`` — end the response as Vertex would: ``length`` (the answer is cut at
  the output limit: the run succeeds with ``finish_reason: "length"``), ``output_limit`` (the
  limit is used up before any answer: ``output_limit_reached``), ``content_filter`` (a
  safety block: ``content_filtered``) or ``stop``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from pydantic_ai.messages import (
    BinaryContent,
    FinishReason,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    ModelResponseStreamEvent,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from shared.execution.offline_schema import minimal_instance

if TYPE_CHECKING:
    from pydantic_ai.settings import ModelSettings
    from pydantic_ai.tools import RunContext

MAX_PAUSE_SECONDS = 60.0
GATE_TIMEOUT_SECONDS = 60.0
_DIRECTIVE = re.compile(r"^\s*(call|output|say|pause|gate|fail|finish)\b[ \t]*(.*)$", re.IGNORECASE)
FINISHES = ("stop", "length", "output_limit", "content_filter")
# Words the answer keeps when ``finish length`` cuts it.
CUT_WORDS = 5

_gates: dict[str, threading.Event] = {}
_gates_lock = threading.Lock()


def _gate(name: str) -> threading.Event:
    with _gates_lock:
        return _gates.setdefault(name, threading.Event())


def open_gate(name: str) -> None:
    """Release every offline stream waiting on ``gate <name>`` (in this process)."""
    _gate(name).set()


@dataclass
class Directives:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list[tuple[str, dict[str, Any]]])
    output: Any = None
    has_output: bool = False
    say: str | None = None
    pause: float = 0.0
    gate: str | None = None
    fail: str | None = None
    finish: str = "stop"


def parse_directives(text: str) -> Directives:
    found = Directives()
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        verb, rest = match.group(1).lower(), match.group(2).strip()
        if verb == "call" and rest:
            name, _, raw_args = rest.partition(" ")
            try:
                parsed: Any = json.loads(raw_args) if raw_args.strip() else {}
            except json.JSONDecodeError:
                parsed = {"input": raw_args.strip()}
            args = cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {"input": parsed}
            found.calls.append((name, args))
        elif verb == "output":
            try:
                found.output = json.loads(rest)
            except json.JSONDecodeError:
                found.output = rest
            found.has_output = True
        elif verb == "say":
            found.say = rest
        elif verb == "pause":
            try:
                found.pause = min(MAX_PAUSE_SECONDS, max(0.0, float(rest)))
            except ValueError:
                pass
        elif verb == "gate" and rest:
            found.gate = rest
        elif verb == "fail":
            found.fail = rest or "500"
        elif verb == "finish" and rest.lower() in FINISHES:
            found.finish = rest.lower()
    return found


def _words(text: str) -> int:
    return len(text.split())


def _user_text(part: UserPromptPart) -> tuple[str, int]:
    """The text of a user prompt and how many images it carries."""
    if isinstance(part.content, str):
        return part.content, 0
    texts: list[str] = []
    images = 0
    for item in part.content:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, BinaryContent):
            images += 1
    return "\n".join(texts), images


def _message_words(messages: Sequence[ModelMessage]) -> int:
    total = 0
    for message in messages:
        for part in message.parts:
            content = getattr(part, "content", None)
            if isinstance(content, str):
                total += _words(content)
            elif isinstance(part, UserPromptPart):
                text, images = _user_text(part)
                total += _words(text) + 258 * images
            elif isinstance(part, ToolCallPart):
                total += _words(part.args_as_json_str()) + 1
            elif content is not None:
                total += _words(json.dumps(content, default=str))
    return total


@dataclass
class _Turn:
    prompt: str
    images: int
    user_messages: int
    responses_this_turn: int
    tool_returns: list[ToolReturnPart]


def _turn(messages: Sequence[ModelMessage]) -> _Turn:
    prompt, images, user_messages, responses = "", 0, 0, 0
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    prompt, images = _user_text(part)
                    user_messages += 1
                    responses = 0
        else:
            responses += 1
    last = messages[-1] if messages else None
    returns = (
        [p for p in last.parts if isinstance(p, ToolReturnPart)] if isinstance(last, ModelRequest) else []
    )
    return _Turn(prompt, images, user_messages, responses, returns)


def _fail(status: str, model_name: str) -> None:
    from pydantic_ai.exceptions import ModelHTTPError, ModelTimeoutError

    if status.lower() == "timeout":
        raise ModelTimeoutError(model_name=model_name, message="offline model simulated a timeout")
    code = int(status) if status.isdigit() else 500
    raise ModelHTTPError(status_code=code, model_name=model_name, body={"error": "offline simulated failure"})


def _answer_text(turn: _Turn, directives: Directives) -> str:
    if directives.say is not None:
        return directives.say
    first_line = next((ln.strip() for ln in turn.prompt.splitlines() if ln.strip()), "")
    words = [f'Offline reply to "{first_line[:200]}".']
    if turn.images:
        words.append(f"I received {turn.images} image(s).")
    for ret in turn.tool_returns:
        if ret.outcome == "success":
            words.append(f"Tool {ret.tool_name} returned: {ret.model_response_str()[:300]}")
        else:
            words.append(f"Tool {ret.tool_name} could not be used.")
    words.append(f"(message {turn.user_messages} of this conversation)")
    return " ".join(words)


def _finished(parts: list[ModelResponsePart], finish: str) -> tuple[list[ModelResponsePart], FinishReason]:
    """The response parts and finish reason a ``finish`` directive asks for."""
    if finish == "length":
        cut = [
            TextPart(" ".join(p.content.split(" ")[:CUT_WORDS])) if isinstance(p, TextPart) else p
            for p in parts
        ]
        return cut, "length"
    if finish == "output_limit":
        return [], "length"
    if finish == "content_filter":
        return [], "content_filter"
    return parts, "stop"


def _respond(messages: list[ModelMessage], info: AgentInfo) -> list[ModelResponsePart]:
    turn = _turn(messages)
    directives = parse_directives(turn.prompt)
    if turn.responses_this_turn == 0 and directives.calls:
        return [
            ToolCallPart(name, args, tool_call_id=f"offline-call-{index}")
            for index, (name, args) in enumerate(directives.calls, start=1)
        ]
    params = info.model_request_parameters
    if info.output_tools:
        tool = info.output_tools[0]
        value = directives.output if directives.has_output else minimal_instance(tool.parameters_json_schema)
        args: dict[str, Any] = cast(dict[str, Any], value) if isinstance(value, dict) else {"value": value}
        return [ToolCallPart(tool.name, args)]
    if params.output_object is not None and params.output_mode in ("native", "prompted"):
        value = (
            directives.output if directives.has_output else minimal_instance(params.output_object.json_schema)
        )
        return [TextPart(json.dumps(value))]
    return [TextPart(_answer_text(turn, directives))]


@dataclass(init=False)
class OfflineModel(FunctionModel):
    """Deterministic offline model; priced with the catalog prices of the model it stands in for."""

    input_price_per_mtok: Decimal = Decimal(0)
    output_price_per_mtok: Decimal = Decimal(0)

    def __init__(
        self,
        model_name: str = "offline",
        *,
        input_price_per_mtok: float | None = None,
        output_price_per_mtok: float | None = None,
    ) -> None:
        super().__init__(
            self._request_fn, stream_function=self._stream_fn, model_name=f"offline:{model_name}"
        )
        self.input_price_per_mtok = Decimal(str(input_price_per_mtok or 0))
        self.output_price_per_mtok = Decimal(str(output_price_per_mtok or 0))

    @property
    def system(self) -> str:
        return "offline"

    def _usage(
        self, messages: Sequence[ModelMessage], response_parts: Sequence[ModelResponsePart]
    ) -> RequestUsage:
        input_tokens = 20 + _message_words(messages)
        output_tokens = max(1, _message_words([ModelResponse(parts=list(response_parts))]))
        cost = (
            Decimal(input_tokens) * self.input_price_per_mtok
            + Decimal(output_tokens) * self.output_price_per_mtok
        ) / Decimal(1_000_000)
        return RequestUsage(input_tokens=input_tokens, output_tokens=output_tokens, cost=cost)

    async def _before_response(self, messages: list[ModelMessage]) -> Directives:
        directives = parse_directives(_turn(messages).prompt)
        if directives.fail:
            _fail(directives.fail, self.model_name)
        if directives.pause:
            await asyncio.sleep(directives.pause)
        return directives

    async def _request_fn(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        directives = await self._before_response(messages)
        parts, finish = _finished(_respond(messages, info), directives.finish)
        return ModelResponse(parts=parts, usage=self._usage(messages, parts), finish_reason=finish)

    async def _stream_fn(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
        # Unused: request_stream below streams through _OfflineStream (it sets the usage).
        raise NotImplementedError
        yield  # pragma: no cover

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        model_settings, model_request_parameters = self.prepare_request(
            model_settings, model_request_parameters
        )
        info = AgentInfo(
            function_tools=model_request_parameters.declared_function_tools,
            allow_text_output=model_request_parameters.allow_text_output,
            output_tools=model_request_parameters.output_tools,
            model_settings=model_settings,
            model_request_parameters=model_request_parameters,
            instructions=None,
        )
        directives = await self._before_response(messages)
        parts, finish = _finished(_respond(messages, info), directives.finish)
        yield _OfflineStream(
            model_request_parameters=model_request_parameters,
            offline_finish=finish,
            offline_parts=parts,
            offline_usage=self._usage(messages, parts),
            gate=directives.gate,
            offline_model_name=self.model_name,
        )


@dataclass
class _OfflineStream(StreamedResponse):
    offline_parts: list[ModelResponsePart] = field(default_factory=list[ModelResponsePart])
    offline_usage: RequestUsage = field(default_factory=RequestUsage)
    gate: str | None = None
    offline_model_name: str = "offline"
    offline_finish: FinishReason = "stop"
    _created: datetime = field(default_factory=lambda: datetime.now(UTC))

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        first = True
        for index, part in enumerate(self.offline_parts):
            if isinstance(part, TextPart):
                # Word by word, keeping the separators so the deltas join to the full text.
                for chunk in re.findall(r"\S+\s*|\s+", part.content) or [""]:
                    for event in self._parts_manager.handle_text_delta(vendor_part_id=index, content=chunk):
                        yield event
                    if first and self.gate:
                        await asyncio.to_thread(_gate(self.gate).wait, GATE_TIMEOUT_SECONDS)
                    first = False
                    await asyncio.sleep(0)
            elif isinstance(part, ToolCallPart):
                for event in self._parts_manager.handle_tool_call_delta_events(
                    vendor_part_id=index,
                    tool_name=part.tool_name,
                    args=part.args_as_json_str(),
                    tool_call_id=part.tool_call_id,
                ):
                    yield event
        self._usage = self.offline_usage
        self.finish_reason = self.offline_finish

    async def close_stream(self) -> None:
        return None

    @property
    def model_name(self) -> str:
        return self.offline_model_name

    @property
    def provider_name(self) -> str:
        return "offline"

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._created
