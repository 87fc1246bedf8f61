"""An AG-UI run: map ``RunAgentInput`` onto a run, stream the run as AG-UI events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shared.ag_ui import interrupts
from shared.errors import BadRequest, ValidationFailed
from shared.openai_compat import runner
from shared.openai_compat.mapping import Conversation

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.service import StreamItem


def parse_input(raw: bytes) -> Any:
    """The request's ``RunAgentInput`` (422 naming the fields when it is not one)."""
    from pydantic import ValidationError
    from pydantic_ai.ui.ag_ui import AGUIAdapter

    from shared.web.parsing import parse_json, validation_details

    parse_json(raw)  # malformed JSON → 400, like every other route
    try:
        return AGUIAdapter.build_run_input(raw)
    except ValidationError as exc:
        fields = validation_details(exc)
        raise ValidationFailed(
            "invalid AG-UI run input: " + ", ".join(f["loc"] for f in fields[:5]), details={"fields": fields}
        ) from None


def _conversation(run_input: Any) -> Conversation:
    from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart
    from pydantic_ai.ui.ag_ui import AGUIAdapter

    if run_input.tools:
        raise BadRequest(
            "frontend tools are not supported: the agent's own tools run on the server",
            code="unsupported_parameter",
            details={"param": "tools"},
        )
    messages = AGUIAdapter.load_messages(run_input.messages)
    last = messages[-1] if messages else None
    if not isinstance(last, ModelRequest) or not isinstance(last.parts[-1], UserPromptPart):
        raise ValidationFailed.field("messages", "the last message must be the user's")
    prompt = last.parts[-1].content
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationFailed.field("messages", "the last user message must be non-empty text")
    history = messages[:-1]
    rest = list(last.parts[:-1])
    # Context the frontend shares (CopilotKit "readables") reaches the model as system text.
    context: list[Any] = list(run_input.context or [])
    rest += [SystemPromptPart(content=f"{c.description}: {c.value}") for c in context]
    if rest:
        history.append(ModelRequest(parts=rest))
    return Conversation(input=prompt, history=history)


def start(principal: Principal, agent_id: str, run_input: Any) -> runner.PreparedRun:
    """A new run for the input's messages, or (``resume``) the paused run it answers."""
    from shared.agents.repository import runnable_agent

    agent = runnable_agent(agent_id, principal)
    if getattr(run_input, "resume", None):
        if run_input.tools:
            _conversation(run_input)  # the same refusal as for a new run
        return interrupts.resume(principal, agent, run_input.resume)
    return runner.start(principal, agent, _conversation(run_input), stream=True)


async def frames(
    run_input: Any, accept: str | None, prepared: runner.PreparedRun, items: AsyncIterator[StreamItem]
) -> AsyncIterator[str]:
    """The run's AG-UI events; a paused run ends with ``RUN_FINISHED`` carrying one interrupt
    per waiting tool call (``shared.ag_ui.interrupts``)."""
    from pydantic_ai.ui.ag_ui import AGUIEventStream

    from shared.runs.streaming import adapter_frames

    paused = interrupts.PausedRun(prepared.started.record.id)
    stream = AGUIEventStream(run_input, accept=accept)
    frames = adapter_frames(stream, paused.watch(items), adjust=paused.adjust, refine=without_empty_messages)
    async for frame in frames:
        yield frame


async def without_empty_messages(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Drop text messages that carry no text (``TEXT_MESSAGE_START`` straight followed by its
    ``TEXT_MESSAGE_END``). pydantic-ai's encoder opens and closes one as the parent of a tool
    call no text preceded; AG-UI clients create that parent themselves from
    ``TOOL_CALL_START.parentMessageId`` (``@ag-ui/client`` does, with that id), and an empty
    assistant message is noise in a chat UI."""
    from ag_ui.core import EventType

    held: Any = None
    async for event in events:
        if held is not None:
            if event.type == EventType.TEXT_MESSAGE_END and event.message_id == held.message_id:
                held = None
                continue
            yield held
            held = None
        if event.type == EventType.TEXT_MESSAGE_START:
            held = event
            continue
        yield event
    if held is not None:
        yield held
