"""``POST /mcp`` and ``POST /mcp/agents/{agent_id}``: check the HTTP envelope with our own
errors (415, 406, 413, 400), then let the `mcp` SDK's transport answer the JSON-RPC message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from shared.errors import BadRequest, NotAcceptable, UnsupportedMediaType

if TYPE_CHECKING:
    import flask

    from shared.web.context import RequestContext


def _accepts(accept: str) -> tuple[bool, bool]:
    """(JSON, SSE) acceptable, as the SDK's transport reads ``Accept`` (wildcards included)."""
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    wildcard = "*/*" in types
    return (
        wildcard or bool(types & {"application/json", "application/*"}),
        wildcard or bool(types & {"text/event-stream", "text/*"}),
    )


def serve(ctx: RequestContext, agent_id: str | None) -> flask.Response:
    from pydantic import TypeAdapter, ValidationError

    from shared.settings import get_settings
    from shared.web.asgi import serve_asgi
    from shared.web.parsing import is_json_content_type, parse_json, read_body

    principal = ctx.principal
    if agent_id is not None:
        from shared.agents.repository import runnable_agent

        runnable_agent(agent_id, principal)  # 404 / 403 agent_not_allowed before any MCP exchange
    if not is_json_content_type((ctx.request.mimetype or "").lower()):
        raise UnsupportedMediaType("send MCP JSON-RPC messages as application/json")
    json_ok, sse_ok = _accepts(ctx.header("Accept") or "")
    if not (json_ok and sse_ok):
        raise NotAcceptable(
            "MCP Streamable HTTP clients must accept both application/json and text/event-stream"
        )
    raw = read_body(ctx.request, get_settings().max_body_bytes)
    message = parse_json(raw)  # malformed JSON → 400 like every route

    from mcp_types import JSONRPCMessage

    try:
        TypeAdapter(JSONRPCMessage).validate_python(message)
    except ValidationError:
        raise BadRequest("the body is not a JSON-RPC 2.0 message", code="invalid_jsonrpc") from None
    from shared.mcp_server.server import asgi_app

    # Only a tool call runs long enough to report progress: it alone is answered as SSE.
    method: Any = cast(dict[str, Any], message).get("method") if isinstance(message, dict) else None
    json_response = method != "tools/call"
    return serve_asgi(asgi_app(principal, agent_id, json_response=json_response), ctx.request, raw)
