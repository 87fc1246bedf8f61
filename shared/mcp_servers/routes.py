"""The ``/mcp-servers`` routes, included in the ``agents`` function's router (functions/agents).

Thin handlers: parse, authorise (owner-only, scope ``mcp-servers``), call
``shared.mcp_servers.service`` / ``oauth``, render.
"""

from __future__ import annotations

from shared.mcp_servers.schemas import (
    McpCredentialPut,
    McpCredentialStatus,
    McpOAuthCallbackQuery,
    McpOAuthConnected,
    McpOAuthStart,
    McpServerCreate,
    McpServerPage,
    McpServerPublic,
    McpServerUpdate,
    McpToolList,
    McpToolsAccept,
    McpToolsQuery,
)
from shared.pagination import PageQuery
from shared.web import Reply, RequestContext, Router

SCOPE = "mcp-servers"
TAGS = ("mcp-servers",)

routes = Router("agents", ())


@routes.route(
    "POST",
    "/mcp-servers",
    body=McpServerCreate,
    response=McpServerPublic,
    status=201,
    errors=(409,),
    scope=SCOPE,
    tags=TAGS,
)
def create_mcp_server(ctx: RequestContext) -> Reply:
    """Register a remote MCP server (Streamable HTTP) agents can use; credentials are stored
    separately, per user (`PUT .../credential` or the OAuth flow)."""
    from shared.mcp_servers import service

    server = service.create(ctx.principal, ctx.body)
    return Reply(server, status=201, headers={"Location": f"/mcp-servers/{server.id}"})


@routes.route(
    "GET", "/mcp-servers", query=PageQuery, response=McpServerPage, errors=(400,), scope=SCOPE, tags=TAGS
)
def list_mcp_servers(ctx: RequestContext) -> McpServerPage:
    """My MCP servers, newest first (cursor-paginated)."""
    from shared.mcp_servers import service

    q: PageQuery = ctx.query
    return service.list_mine(ctx.principal, limit=q.limit, cursor=q.cursor)


@routes.route(
    "GET",
    "/mcp-servers/oauth/callback",
    auth="public",
    query=McpOAuthCallbackQuery,
    response=McpOAuthConnected,
    errors=(400, 502),
    tags=TAGS,
)
def finish_mcp_server_oauth(ctx: RequestContext) -> McpOAuthConnected:
    """The OAuth redirect target: exchanges the code (with the PKCE verifier) for tokens and
    stores them, sealed, as the credential of the user who started the flow."""
    from shared.mcp_servers import oauth

    return oauth.finish(ctx.query, ctx.request.host_url)


@routes.route(
    "GET", "/mcp-servers/{server_id}", response=McpServerPublic, errors=(404,), scope=SCOPE, tags=TAGS
)
def get_mcp_server(ctx: RequestContext) -> McpServerPublic:
    """One of my MCP servers (whether I am connected, tools awaiting review)."""
    from shared.mcp_servers import service

    return service.get(ctx.principal, ctx.params["server_id"])


@routes.route(
    "PATCH",
    "/mcp-servers/{server_id}",
    body=McpServerUpdate,
    response=McpServerPublic,
    errors=(404,),
    scope=SCOPE,
    tags=TAGS,
)
def update_mcp_server(ctx: RequestContext) -> McpServerPublic:
    """Change name, URL, auth or allowed tools; a new URL or auth type forgets stored credentials
    and the tools review."""
    from shared.mcp_servers import service

    return service.update(ctx.principal, ctx.params["server_id"], ctx.body)


@routes.route("DELETE", "/mcp-servers/{server_id}", status=204, errors=(404,), scope=SCOPE, tags=TAGS)
def delete_mcp_server(ctx: RequestContext) -> None:
    """Delete the registration and every credential stored for it (agents naming it then fail
    to run with `mcp_server_not_found`)."""
    from shared.mcp_servers import service

    service.delete(ctx.principal, ctx.params["server_id"])


@routes.route(
    "GET",
    "/mcp-servers/{server_id}/tools",
    query=McpToolsQuery,
    response=McpToolList,
    errors=(404, 409, 502),
    scope=SCOPE,
    tags=TAGS,
)
def list_mcp_server_tools(ctx: RequestContext) -> McpToolList:
    """The server's tools (cached for MCP_TOOLS_CACHE_SECONDS; `?refresh=true` re-reads the
    server with my credential). New tools are `pending` until accepted."""
    from shared.mcp_servers import service

    q: McpToolsQuery = ctx.query
    return service.tools(ctx.principal, ctx.params["server_id"], refresh=q.refresh)


@routes.route(
    "POST",
    "/mcp-servers/{server_id}/tools/accept",
    body=McpToolsAccept,
    response=McpServerPublic,
    errors=(404,),
    scope=SCOPE,
    tags=TAGS,
)
def accept_mcp_server_tools(ctx: RequestContext) -> McpServerPublic:
    """Accept tools the server added since its review, so agents may use them."""
    from shared.mcp_servers import service

    return service.accept_tools(ctx.principal, ctx.params["server_id"], ctx.body)


@routes.route(
    "PUT",
    "/mcp-servers/{server_id}/credential",
    body=McpCredentialPut,
    response=McpCredentialStatus,
    errors=(404, 409),
    scope=SCOPE,
    tags=TAGS,
)
def put_mcp_server_credential(ctx: RequestContext) -> McpCredentialStatus:
    """Store my bearer token for this server (write-only: never returned; encrypted at rest).
    Runs of my agents send it; other users' runs send theirs."""
    from shared.mcp_servers import service

    return service.put_credential(ctx.principal, ctx.params["server_id"], ctx.body)


@routes.route(
    "GET",
    "/mcp-servers/{server_id}/credential",
    response=McpCredentialStatus,
    errors=(404,),
    scope=SCOPE,
    tags=TAGS,
)
def get_mcp_server_credential(ctx: RequestContext) -> McpCredentialStatus:
    """Whether I have a credential stored for this server, its type and expiry (never its value)."""
    from shared.mcp_servers import service

    return service.credential_status(ctx.principal, ctx.params["server_id"])


@routes.route(
    "DELETE", "/mcp-servers/{server_id}/credential", status=204, errors=(404,), scope=SCOPE, tags=TAGS
)
def delete_mcp_server_credential(ctx: RequestContext) -> None:
    """Forget my credential for this server."""
    from shared.mcp_servers import service

    service.delete_credential(ctx.principal, ctx.params["server_id"])


@routes.route(
    "GET",
    "/mcp-servers/{server_id}/oauth/start",
    response=McpOAuthStart,
    errors=(404, 409, 502),
    scope=SCOPE,
    tags=TAGS,
)
def start_mcp_server_oauth(ctx: RequestContext) -> McpOAuthStart:
    """Begin connecting an `oauth` server (OAuth 2.1 authorization code + PKCE): open the
    returned `authorization_url` in a browser; the authorization server comes back to
    `/mcp-servers/oauth/callback`."""
    from shared.mcp_servers import oauth

    return oauth.start(ctx.principal, ctx.params["server_id"], ctx.request.host_url)
