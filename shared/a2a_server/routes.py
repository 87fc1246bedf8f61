"""The A2A routes of the `runs` function: an agent card and a JSON-RPC endpoint per agent."""

from __future__ import annotations

from typing import Any

import flask

from shared.a2a_server.http import AgentCardQuery
from shared.web import RequestContext, Router

routes = Router("runs", ())


@routes.route(
    "GET",
    "/.well-known/agent-card.json",
    query=AgentCardQuery,
    response=dict[str, Any],
    errors=(404,),
    tags=("a2a",),
    scope="runs",
)
def a2a_card_by_query(ctx: RequestContext) -> dict[str, Any]:
    """The A2A agent card (protocol 0.3) of my agent `?agent_id=`; its `url` is the agent's
    JSON-RPC endpoint `/a2a/{agent_id}`."""
    from shared.a2a_server.http import card

    return card(ctx, ctx.query.agent_id)


@routes.route(
    "GET",
    "/a2a/{agent_id}/.well-known/agent-card.json",
    response=dict[str, Any],
    errors=(404,),
    tags=("a2a",),
    scope="runs",
)
def a2a_card(ctx: RequestContext) -> dict[str, Any]:
    """The A2A agent card of my agent, at the well-known path under its own base URL
    `/a2a/{agent_id}` (where A2A clients look for it)."""
    from shared.a2a_server.http import card

    return card(ctx, ctx.params["agent_id"])


@routes.route(
    "POST",
    "/a2a/{agent_id}",
    body_kind="raw",
    raw_media_type="application/json",
    response=dict[str, Any],
    streams=True,
    tags=("a2a",),
    errors=(404, 413, 415),
    scope="runs",
)
def a2a_rpc(ctx: RequestContext) -> flask.Response:
    """A2A JSON-RPC 2.0 for my agent: `message/send` (a run; `blocking: false` → queued),
    `message/stream` (SSE), `tasks/get`, `tasks/cancel`. A task is a run (`source: "a2a"`), a
    context is a session. JSON-RPC errors come with status 200."""
    from shared.a2a_server.http import serve

    return serve(ctx, ctx.params["agent_id"])
