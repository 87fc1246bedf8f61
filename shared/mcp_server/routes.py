"""The MCP server routes of the `runs` function: my agents as MCP tools over Streamable HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask

from shared.web import RequestContext, Router
from shared.web.routing import Handler

routes = Router("runs", ())


_MCP_ERRORS = (400, 403, 404, 406, 413, 415, 429)
# A JSON-RPC notification or response needs no answer: 202 without a body (MCP Streamable HTTP).
_MCP_ACCEPTED = {202: "Accepted (a notification or a response): no body"}


def _mcp_endpoint(path: str) -> Callable[[Handler], Handler]:
    """Both endpoints speak the same transport: one raw JSON-RPC body, JSON or SSE back."""
    return routes.route(
        "POST",
        path,
        body_kind="raw",
        raw_media_type="application/json",
        response=dict[str, Any],
        streams=True,
        tags=("mcp",),
        errors=_MCP_ERRORS,
        extra_responses=_MCP_ACCEPTED,
        empty_responses=(202,),
        scope="runs",
    )


@_mcp_endpoint("/mcp")
def mcp_all_agents(ctx: RequestContext) -> flask.Response:
    """MCP Streamable HTTP endpoint (stateless): my runnable agents (own and installed) as tools;
    `tools/call` runs the agent (`source: "mcp"`). One JSON-RPC message per POST; the answer is
    JSON or an SSE stream with progress notifications. Protocol errors are JSON-RPC errors."""
    from shared.mcp_server.http import serve

    return serve(ctx, None)


@_mcp_endpoint("/mcp/agents/{agent_id}")
def mcp_one_agent(ctx: RequestContext) -> flask.Response:
    """MCP Streamable HTTP endpoint serving one of my agents alone (a token restricted to that
    agent works here). `/agents/{agent_id}/mcp` redirects here (308)."""
    from shared.mcp_server.http import serve

    return serve(ctx, ctx.params["agent_id"])
