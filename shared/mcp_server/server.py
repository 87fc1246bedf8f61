"""The MCP server for one request: the `mcp` SDK's low-level ``Server`` with our two handlers
(``tools/list``, ``tools/call``), behind its Streamable HTTP transport in stateless mode.

Each HTTP request gets its own server and session manager (nothing is kept between requests,
so any instance answers any request: no ``Mcp-Session-Id``). The SDK speaks both protocol
generations: the 2026-07-28 single-exchange requests and the earlier ``initialize`` handshake.
A ``tools/call`` is answered as an SSE stream, so a long run reports progress notifications;
everything else (``initialize``, ``tools/list``, ``ping``, ...) as one JSON body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from shared.errors import ServiceError

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server
    from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult, PaginatedRequestParams

    from shared.auth.principal import Principal
    from shared.mcp_server.tools import AgentTool
    from shared.runs.schemas import RunPublic
    from shared.web.asgi import AsgiReceive, AsgiSend

SERVER_NAME = "agents-service"
_FINAL = ("run.completed", "run.failed", "run.requires_action")


def _error(text: str, run_id: str | None = None) -> CallToolResult:
    from mcp_types import CallToolResult, TextContent

    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        is_error=True,
        _meta={"run_id": run_id} if run_id else None,
    )


def _arguments(arguments: dict[str, Any] | None) -> tuple[str, str | None] | str:
    """(input, session_id), or what is wrong with the arguments."""
    args = arguments or {}
    unknown = sorted(set(args) - {"input", "session_id"})
    if unknown:
        return f"unknown arguments: {', '.join(unknown)}"
    prompt = args.get("input")
    if not isinstance(prompt, str) or not prompt.strip():
        return "'input' must be a non-empty string"
    session_id = args.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        return "'session_id' must be a string"
    return prompt, session_id


def _progress_message(item_type: str, data: dict[str, Any]) -> str | None:
    if item_type == "tool.call":
        return f"calling {data.get('name', 'a tool')}"
    if item_type == "tool.result":
        return f"{data.get('name', 'a tool')} returned"
    if item_type == "step.started":
        return f"step {data.get('step', '')} started".replace("  ", " ")
    if item_type == "run.started":
        return "run started"
    return None


def result_for(tool: AgentTool, run: RunPublic) -> CallToolResult:
    """A finished run as the tool's result: text (the output as JSON where it is structured)
    plus ``structuredContent`` matching the tool's ``outputSchema``; a run that did not
    succeed is a tool error naming its code and run."""
    from mcp_types import CallToolResult, TextContent

    meta = {"run_id": run.id, "status": run.status}
    if run.status == "requires_action":
        return _error(
            f"the run waits for approval of tool calls: decide them with POST /runs/{run.id}/approvals",
            run.id,
        )
    if run.status != "succeeded":
        error = run.error
        code, message = (error.code, error.message) if error else (run.status, f"the run ended {run.status}")
        return _error(f"{code}: {message} (run {run.id})", run.id)
    output = run.output
    if tool.output_schema is None:
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        return CallToolResult(content=[TextContent(type="text", text=text)], _meta=meta)
    structured = {"result": output} if tool.wraps_output else output
    text = json.dumps(output, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured, _meta=meta
    )


async def _run_tool(
    ctx: ServerRequestContext[Any], principal: Principal, tool: AgentTool, prompt: str, session_id: str | None
) -> CallToolResult:
    from shared.runs.schemas import RunCreate, RunPublic
    from shared.runs.service import execute_run, start_run

    body = RunCreate(agent_id=tool.agent.id, input=prompt, session_id=session_id, mode="sync")
    try:
        started = await asyncio.to_thread(start_run, principal, body, source="mcp")
    except ServiceError as exc:
        return _error(f"{exc.code}: {exc.message}")
    final: RunPublic | None = None
    steps = 0
    items = execute_run(
        started.record,
        definition=started.definition,
        session_revision=started.session_revision,
        stream=False,
    )
    try:
        async for item in items:
            if item.type in _FINAL:
                final = RunPublic.model_validate(item.data["run"])
            elif item.type is not None:
                message = _progress_message(item.type, item.data)
                if message is not None:
                    steps += 1
                    await ctx.session.report_progress(steps, None, message)
    finally:
        # The client went away (the request's task is cancelled): the run still ends properly.
        aclose: Any = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    if final is None:
        return _error(f"the run ended without a result (run {started.record.id})", started.record.id)
    return result_for(tool, final)


def build_server(principal: Principal, agent_id: str | None) -> Server[Any]:
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError
    from mcp_types import INVALID_PARAMS, ListToolsResult

    from shared.mcp_server.tools import agent_tools, find_tool

    async def list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        tools = await asyncio.to_thread(agent_tools, principal, agent_id)
        return ListToolsResult(tools=[t.definition() for t in tools])

    async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        tool = await asyncio.to_thread(find_tool, principal, agent_id, params.name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        parsed = _arguments(params.arguments)
        if isinstance(parsed, str):
            return _error(f"invalid arguments: {parsed}")
        return await _run_tool(ctx, principal, tool, *parsed)

    return Server(
        SERVER_NAME,
        version="1",
        instructions="Each tool runs one of your agents; a call is a run (GET /runs lists it).",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def asgi_app(principal: Principal, agent_id: str | None, *, json_response: bool) -> Any:
    """An ASGI app serving one request with a fresh stateless server for ``principal``
    (``json_response``: answer with one JSON body rather than an SSE stream)."""
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    async def app(scope: MutableMapping[str, Any], receive: AsgiReceive, send: AsgiSend) -> None:
        server = build_server(principal, agent_id)
        manager = StreamableHTTPSessionManager(server, stateless=True, json_response=json_response)
        async with manager.run():
            await manager.handle_request(dict(scope), receive, send)

    return app
