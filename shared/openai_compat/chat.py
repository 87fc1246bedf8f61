"""``POST /v1/chat/completions``: a run rendered as a chat completion or its chunk stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shared.openai_compat import mapping, runner
from shared.openai_compat.schemas import ChatCompletionCreate

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunPublic, RunUsage
    from shared.runs.service import StreamItem


def _usage(usage: RunUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def finish_reason(run: RunPublic) -> str:
    """OpenAI's finish reason for a finished run; other failures raise ``RunFailed``."""
    if run.status == "succeeded":
        return "length" if run.finish_reason == "length" else "stop"
    code = run.error.code if run.error is not None else ""
    if code == "content_filtered":
        return "content_filter"
    if code == "output_limit_reached":
        return "length"
    raise runner.RunFailed(run)


def _created(run: RunPublic) -> int:
    return int(run.created_at.timestamp())


def prepare(principal: Principal, body: ChatCompletionCreate, *, stream: bool) -> runner.PreparedRun:
    agent = mapping.resolve_agent(principal, body.model)
    mapping.check_format(agent, body.response_format, "response_format")
    if body.stream_options is not None and not body.stream:
        raise mapping.invalid("stream_options", "stream_options needs stream: true")
    conversation = mapping.split_conversation(mapping.chat_turns(body.messages), "messages")
    return runner.start(principal, agent, conversation, stream=stream)


def completion(body: ChatCompletionCreate, outcome: runner.Outcome) -> dict[str, Any]:
    run = outcome.run
    reason = finish_reason(run)
    return {
        "id": f"chatcmpl-{run.id}",
        "object": "chat.completion",
        "created": _created(run),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": mapping.output_text(run.output),
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": reason,
            }
        ],
        "usage": _usage(run.usage),
        "system_fingerprint": None,
        "service_tier": "default",
    }


def _sse(data: Any) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


async def chunks(
    body: ChatCompletionCreate, prepared: runner.PreparedRun, items: AsyncIterator[StreamItem]
) -> AsyncIterator[str]:
    """The chunk stream: a role chunk, content deltas, a finish chunk, the usage chunk when
    ``stream_options.include_usage``, then ``data: [DONE]``. A failed run ends the stream
    with an ``error`` event (what OpenAI's SDKs raise as an API error)."""
    from shared.runs.schemas import RunPublic

    record = prepared.started.record
    base = {
        "id": f"chatcmpl-{record.id}",
        "object": "chat.completion.chunk",
        "created": int(record.created_at.timestamp()),
        "model": body.model,
        "system_fingerprint": None,
        "service_tier": "default",
    }
    include_usage = body.stream_options is not None and body.stream_options.include_usage

    def chunk(delta: dict[str, Any], reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        extra = {"usage": None} if include_usage else {}
        return _sse({**base, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    structured = prepared.agent.definition.output_schema is not None
    try:
        async for item in items:
            if item.type == "text.delta" and not structured:
                yield chunk({"content": item.data["delta"]})
            elif item.type in ("run.completed", "run.failed"):
                run = RunPublic.model_validate(item.data["run"])
                try:
                    reason = finish_reason(run)
                except runner.RunFailed as failed:
                    from shared.openai_compat.errors import error_object

                    yield _sse(error_object(failed))
                    return
                if structured:
                    # Structured output arrives whole at the end (the output tool's arguments).
                    yield chunk({"content": mapping.output_text(run.output)})
                yield chunk({}, reason)
                if include_usage:
                    yield _sse({**base, "choices": [], "usage": _usage(run.usage)})
                yield "data: [DONE]\n\n"
    finally:
        aclose: Any = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
