"""A real MCP server for the tests, built with the official ``mcp`` SDK (``MCPServer``), served
by uvicorn on loopback, plus a small OAuth 2.1 authorization server (RFC 8414 metadata, RFC 7591
registration, authorization code + PKCE S256, refresh tokens) guarding it when asked.

- ``server.tokens``: bearer tokens the MCP endpoint accepts (empty = no auth required);
- ``server.seen_tokens``: the bearer token of every MCP request, in order;
- ``server.add_tool(name)``: the server grows a tool (tool drift);
- tools: ``echo(text)``, ``whoami()`` (returns the bearer token the request carried),
  ``add(a, b)``.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

_current_token: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcp_test_token", default=None)


@dataclass
class OAuthState:
    codes: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    refresh_tokens: dict[str, str] = field(default_factory=dict[str, str])  # refresh -> client_id
    clients: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    access_ttl: int = 3600
    issued: int = 0
    refreshed: int = 0


@dataclass
class TestMcpServer:
    __test__ = False  # a fixture value, not a test class

    url: str
    base: str
    tokens: set[str] = field(default_factory=set[str])
    seen_tokens: list[str | None] = field(default_factory=list[str | None])
    calls: list[str] = field(default_factory=list[str])
    oauth: OAuthState | None = None
    mcp: Any = None
    # False: the session mode (initialize, Mcp-Session-Id, SSE answers) instead of stateless JSON.
    stateless: bool = True

    def add_tool(self, name: str) -> None:
        def extra(text: str) -> str:
            self.calls.append(name)
            return f"{name}: {text}"

        self.mcp.add_tool(extra, name=name, description=f"the {name} tool (added later)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _build_app(server: TestMcpServer) -> Any:
    from mcp.server.mcpserver import MCPServer
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route

    mcp = MCPServer("test-tools")
    server.mcp = mcp

    @mcp.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        server.calls.append("echo")
        return f"echo: {text}"

    @mcp.tool()
    def whoami() -> str:
        """The bearer token this request carried."""
        server.calls.append("whoami")
        return f"token={_current_token.get()}"

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        server.calls.append("add")
        return a + b

    inner = mcp.streamable_http_app(
        stateless_http=server.stateless, json_response=server.stateless, streamable_http_path="/"
    )

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        server.seen_tokens.append(token)
        if server.tokens and token not in server.tokens:
            meta = f"{server.base}/.well-known/oauth-protected-resource"
            response = Response(
                status_code=401, headers={"WWW-Authenticate": f'Bearer resource_metadata="{meta}"'}
            )
            await response(scope, receive, send)
            return
        reset = _current_token.set(token)
        try:
            await inner(scope, receive, send)
        finally:
            _current_token.reset(reset)

    async def protected_resource(request: Request) -> Response:
        return JSONResponse({"resource": server.url, "authorization_servers": [server.base]})

    async def as_metadata(request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": server.base,
                "authorization_endpoint": f"{server.base}/authorize",
                "token_endpoint": f"{server.base}/token",
                "registration_endpoint": f"{server.base}/register",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
            }
        )

    async def register(request: Request) -> Response:
        assert server.oauth is not None
        body = await request.json()
        client_id = "client-" + secrets.token_hex(4)
        server.oauth.clients[client_id] = body
        return JSONResponse({"client_id": client_id, **body}, status_code=201)

    async def authorize(request: Request) -> Response:
        """Consents at once (the user is signed in) and returns to the client with a code."""
        assert server.oauth is not None
        q = request.query_params
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("client_id") not in server.oauth.clients:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        code = secrets.token_urlsafe(16)
        server.oauth.codes[code] = dict(q)
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"], "iss": server.base})
        return RedirectResponse(target, status_code=302)

    async def token(request: Request) -> Response:
        assert server.oauth is not None
        form = await request.form()
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = server.oauth.codes.pop(str(form.get("code")), None)
            if issued is None or _s256(str(form.get("code_verifier"))) != issued["code_challenge"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if (
                form.get("redirect_uri") != issued["redirect_uri"]
                or form.get("client_id") != issued["client_id"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            client_id = issued["client_id"]
        elif grant == "refresh_token":
            client_id = server.oauth.refresh_tokens.pop(str(form.get("refresh_token")), None)
            if client_id is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            server.oauth.refreshed += 1
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        access = "at-" + secrets.token_hex(8)
        refresh = "rt-" + secrets.token_hex(8)
        server.tokens.add(access)
        server.oauth.refresh_tokens[refresh] = client_id
        server.oauth.issued += 1
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": server.oauth.access_ttl,
                "refresh_token": refresh,
            }
        )

    routes = [
        Route("/.well-known/oauth-protected-resource", protected_resource),
        Route("/.well-known/oauth-protected-resource/mcp", protected_resource),
        Route("/.well-known/oauth-authorization-server", as_metadata),
        Route("/register", register, methods=["POST"]),
        Route("/authorize", authorize),
        Route("/token", token, methods=["POST"]),
        Mount("/mcp", app=guarded),
    ]
    return Starlette(routes=routes, lifespan=lambda app: mcp.session_manager.run())


@contextmanager
def mcp_server(
    *, tokens: set[str] | None = None, oauth: bool = False, stateless: bool = True
) -> Iterator[TestMcpServer]:
    import uvicorn

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = TestMcpServer(url=f"{base}/mcp/", base=base, tokens=set(tokens or ()), stateless=stateless)
    if oauth:
        server.oauth = OAuthState()
    app = _build_app(server)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not runner.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test MCP server did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
