"""Talking to a remote MCP server with the official client stack (FastMCP's client on the
``mcp`` SDK, as pydantic-ai's ``MCPToolset`` uses it), through the outbound guard.

Streamable HTTP only; the client's ``auto`` mode uses the stateless 2026-07-28 protocol when
the server offers it and an initialized session otherwise. Every request authenticates as one
user (the runner, or the caller listing tools) with ``RunnerAuth``: their stored credential,
read when the first request is sent; an OAuth token is refreshed when it is about to expire
or the server answers 401.

Imported only when an agent that uses MCP runs or a server's tools are listed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx2

from shared.errors import BadGateway
from shared.mcp_servers import credentials
from shared.mcp_servers.http import OutboundBlocked, ResponseTooLarge, guarded_client
from shared.mcp_servers.schemas import McpServerRecord, McpToolPublic


class McpServerUnavailable(BadGateway):
    code = "mcp_server_unavailable"


class RunnerAuth(httpx2.Auth):
    """``Authorization: Bearer`` with ``user_id``'s credential for ``server`` (see module doc)."""

    def __init__(self, server: McpServerRecord, user_id: str) -> None:
        self.server = server
        self.user_id = user_id
        # The status of the last answer refusing the credential (401/403), if any.
        self.rejected: int | None = None

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("MCP requests are asynchronous")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        token = await credentials.access_token(self.server, self.user_id)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self.server.auth.type == "oauth":
            token = await credentials.access_token(self.server, self.user_id, force_refresh=True)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
        if response.status_code in (401, 403):
            self.rejected = response.status_code


def client_for(server: McpServerRecord, user_id: str) -> Any:
    """A FastMCP ``Client`` for ``server`` acting as ``user_id`` (not connected yet)."""
    from fastmcp.client import Client
    from fastmcp.client.transports import StreamableHttpTransport

    from shared.settings import get_settings

    settings = get_settings()
    auth = RunnerAuth(server, user_id) if server.auth.type != "none" else None
    transport = StreamableHttpTransport(server.url, auth=auth, httpx_client_factory=guarded_client)
    return Client(
        transport,
        timeout=settings.mcp_read_timeout_seconds,
        init_timeout=settings.mcp_connect_timeout_seconds + settings.mcp_read_timeout_seconds,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception in ``exc``'s groups, causes and contexts (anyio nests them deeply)."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 50:
        current = todo.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return found


_SPECIFIC = (OutboundBlocked, ResponseTooLarge, credentials.McpNotConnected, credentials.McpAuthFailed)


def _root_cause(exc: BaseException) -> BaseException:
    chain = _chain(exc)
    return next((e for e in chain if isinstance(e, _SPECIFIC)), None) or next(
        (e for e in chain if not isinstance(e, BaseExceptionGroup)), exc
    )


def as_service_error(
    server: McpServerRecord, exc: BaseException, auth: RunnerAuth | None = None
) -> Exception:
    """A clear API/run error for a failure talking to ``server``."""
    from shared.errors import ServiceError

    root = _root_cause(exc)
    if auth is not None and auth.rejected and not isinstance(root, ServiceError):
        return credentials.McpAuthFailed(
            f"the MCP server '{server.name}' refused the stored credential (HTTP {auth.rejected})",
            details={"server_id": server.id},
        )
    if isinstance(root, ServiceError):
        return root
    details = {"server_id": server.id}
    if isinstance(root, OutboundBlocked):
        return McpServerUnavailable(
            f"the MCP server '{server.name}' is not an allowed destination: {root.reason}",
            code="mcp_server_refused",
            details=details,
        )
    redirect = next((e for e in _chain(exc) if str(e).startswith("Redirect to ")), None)
    if redirect is not None:
        # The MCP SDK never follows redirects (so none can reach a private address either).
        return McpServerUnavailable(
            f"the MCP server '{server.name}' answered with a redirect, which is not followed: "
            "register the URL it redirects to instead",
            code="mcp_server_redirected",
            details=details,
        )
    if isinstance(root, ResponseTooLarge):
        return McpServerUnavailable(
            f"the MCP server '{server.name}' sent a response that is too large", details=details
        )
    if isinstance(root, httpx2.HTTPStatusError) and root.response.status_code in (401, 403):
        status = root.response.status_code
        return credentials.McpAuthFailed(
            f"the MCP server '{server.name}' refused the stored credential (HTTP {status})", details=details
        )
    if isinstance(root, TimeoutError | httpx2.TimeoutException):
        return McpServerUnavailable(f"the MCP server '{server.name}' did not answer in time", details=details)
    return McpServerUnavailable(
        f"the MCP server '{server.name}' could not be reached or failed", details=details
    )


def tool_of(tool: Any) -> McpToolPublic:
    schema: Any = getattr(tool, "input_schema", None) or getattr(tool, "inputSchema", None) or {}
    return McpToolPublic(
        name=str(tool.name),
        description=str(getattr(tool, "description", None) or "")[:4000],
        input_schema=dict(schema),
    )


async def list_tools(server: McpServerRecord, user_id: str) -> list[McpToolPublic]:
    """The server's tools as ``user_id`` sees them (one connection)."""
    client = client_for(server, user_id)
    try:
        async with client:
            tools = await client.list_tools()
    except Exception as exc:
        auth = client.transport.auth
        raise as_service_error(server, exc, auth if isinstance(auth, RunnerAuth) else None) from None
    return [tool_of(t) for t in tools]
