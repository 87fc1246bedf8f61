"""``POST /a2a/{agent_id}`` (JSON-RPC) and the agent card routes: auth and the agent check are
HTTP errors (401/403/404/415/413); everything inside the JSON-RPC envelope is a JSON-RPC error
with status 200, as A2A servers answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import UnsupportedMediaType

if TYPE_CHECKING:
    import flask

    from shared.web.context import RequestContext


class AgentCardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128, description="the agent whose card to return")


def card(ctx: RequestContext, agent_id: str) -> dict[str, Any]:
    from shared.a2a_server.card import agent_card, public_base
    from shared.agents.repository import runnable_agent

    return agent_card(runnable_agent(agent_id, ctx.principal), public_base(ctx.request))


def serve(ctx: RequestContext, agent_id: str) -> flask.Response:
    import json

    from shared.a2a_server import rpc
    from shared.agents.repository import runnable_agent
    from shared.settings import get_settings
    from shared.web.parsing import is_json_content_type, read_body
    from shared.web.responses import json_response, sse_response

    principal = ctx.principal
    agent = runnable_agent(agent_id, principal)
    if not is_json_content_type((ctx.request.mimetype or "").lower()):
        raise UnsupportedMediaType("send A2A JSON-RPC requests as application/json")
    raw = read_body(ctx.request, get_settings().max_body_bytes)
    rpc_id: Any = None
    try:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise rpc.RpcError(rpc.PARSE_ERROR, "the body is not valid JSON") from None
        if isinstance(message, dict):
            given: Any = cast(dict[str, Any], message).get("id")
            rpc_id = given if isinstance(given, str | int) else None
        rpc_id, method, params = rpc.parse_envelope(message)
        if method == "message/stream":
            started = rpc.start_stream(principal, agent, params)
            return sse_response(rpc.stream_frames(rpc_id, started), {"X-Run-Id": started.record.id})
        return json_response(rpc.result_body(rpc_id, rpc.call(principal, agent, method, params)))
    except rpc.RpcError as error:
        return json_response(rpc.error_body(rpc_id, error))
