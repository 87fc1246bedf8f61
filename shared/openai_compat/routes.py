"""The OpenAI-compatible routes of the `runs` function: /v1 (errors in OpenAI's shape)."""

from __future__ import annotations

from typing import Any

import flask

from shared.openai_compat.schemas import ChatCompletionCreate, ModelList, ResponseCreate
from shared.web import Reply, RequestContext, Router, sse_response

routes = Router("runs", ())


@routes.route("GET", "/v1/models", response=ModelList, tags=("openai",), scope="runs")
def openai_models(ctx: RequestContext) -> ModelList:
    """My runnable agents as OpenAI models (`id` = the agent's name)."""
    from shared.openai_compat.models import list_models

    return list_models(ctx.principal)


@routes.route(
    "POST",
    "/v1/chat/completions",
    body=ChatCompletionCreate,
    response=dict[str, Any],
    streams=True,
    tags=("openai",),
    errors=(400, 403, 404, 409, 429),
    scope="runs",
)
def openai_chat_completions(ctx: RequestContext) -> Reply | flask.Response:
    """Run the agent named by `model` as an OpenAI chat completion (`stream: true` → chunks)."""
    from shared.openai_compat import chat, runner
    from shared.runs import streaming

    body: ChatCompletionCreate = ctx.body
    prepared = chat.prepare(ctx.principal, body, stream=body.stream)
    headers = {"X-Run-Id": prepared.started.record.id}
    if not body.stream:
        return Reply(chat.completion(body, runner.run_to_end(prepared)), status=200, headers=headers)
    frames = chat.chunks(body, prepared, runner.items(prepared, stream=True))
    return sse_response(streaming.closing(streaming.drive(frames)), headers)


@routes.route(
    "POST",
    "/v1/responses",
    body=ResponseCreate,
    response=dict[str, Any],
    streams=True,
    tags=("openai",),
    errors=(400, 403, 404, 409, 429),
    scope="runs",
)
def openai_responses(ctx: RequestContext) -> Reply | flask.Response:
    """Run the agent named by `model` as an OpenAI Responses call (`stream: true` → events)."""
    from shared.openai_compat import responses, runner
    from shared.runs import streaming

    body: ResponseCreate = ctx.body
    prepared = responses.prepare(ctx.principal, body, stream=body.stream)
    headers = {"X-Run-Id": prepared.started.record.id}
    assembler = responses.Assembler(body, prepared)
    if not body.stream:
        return Reply(responses.complete(assembler), status=200, headers=headers)
    frames = responses.event_frames(assembler, runner.items(prepared, stream=True))
    return sse_response(streaming.closing(streaming.drive(frames)), headers)
