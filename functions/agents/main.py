"""The `agents` Cloud Function: /agents, /models, /tools, /templates, /workspace, /mcp-servers (API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.agents import repository, service
from shared.agents.catalog import ModelPublic, list_models
from shared.agents.partial import body_errors as agent_body_errors
from shared.agents.schemas import (
    AgentCreate,
    AgentFromTemplate,
    AgentPage,
    AgentPublic,
    AgentUpdate,
)
from shared.health import HealthReport, health_report
from shared.mcp_servers.routes import routes as mcp_server_routes
from shared.pagination import PageQuery
from shared.templates.catalog import TemplatePublic
from shared.tools.schemas import ToolPublic, list_tool_metadata
from shared.web import Reply, RequestContext, Router, serve
from shared.workspace.schemas import WorkspaceFileListQuery, WorkspaceFilePage, WorkspaceFilePublic

router = Router("agents", ("/agents", "/models", "/tools", "/templates", "/workspace", "/mcp-servers"))
router.include(mcp_server_routes)


@router.route("GET", "/agents/health", auth="public", response=HealthReport)
def health(ctx: RequestContext) -> dict[str, object]:
    """Which backends this function reaches (503 when one is down)."""
    return health_report("agents", ("firestore",))


@router.route("GET", "/models", auth="public", response=list[ModelPublic], tags=("catalog",))
def get_models(ctx: RequestContext) -> list[ModelPublic]:
    """The model catalog, with whether each model can run here now."""
    return [ModelPublic.of(m) for m in list_models()]


@router.route("GET", "/tools", auth="public", response=list[ToolPublic], tags=("catalog",))
def get_tools(ctx: RequestContext) -> list[ToolPublic]:
    """The tool registry, with each tool's config JSON Schema."""
    return list_tool_metadata()


def _agent_reply(record: repository.AgentRecord, status: int = 200) -> Reply:
    headers = {"ETag": service.etag(record)}
    if status == 201:
        headers["Location"] = f"/agents/{record.id}"
    return Reply(AgentPublic.of(record), status=status, headers=headers)


@router.route(
    "POST",
    "/agents",
    body=AgentCreate,
    response=AgentPublic,
    status=201,
    errors=(409,),
    headers=("Idempotency-Key",),
    scope="agents:write",
    body_errors=agent_body_errors,
)
def create_agent(ctx: RequestContext) -> Reply:
    """Create an agent (version 1) from a definition, or from a built-in template with
    `{"template": "<name>", "name": "..."}`. Send `Idempotency-Key` to make retries safe."""
    body = ctx.body.root
    if isinstance(body, AgentFromTemplate):
        from shared.templates.instantiate import create_from_template

        record = create_from_template(ctx.principal, body, idempotency_key=ctx.idempotency_key)
    else:
        record = service.create(ctx.principal, body, idempotency_key=ctx.idempotency_key)
    return _agent_reply(record, 201)


@router.route("GET", "/agents", query=PageQuery, response=AgentPage, scope="agents:read")
def list_agents(ctx: RequestContext) -> AgentPage:
    """My agents, newest first (cursor-paginated)."""
    records, cursor = repository.list_agents(
        ctx.principal.user_id, limit=ctx.query.limit, cursor=ctx.query.cursor
    )
    # A token restricted to some agents lists only those (a page may then be short).
    visible = [r for r in records if ctx.principal.may_use_agent(r.id)]
    return AgentPage(items=[AgentPublic.of(r) for r in visible], next_cursor=cursor)


@router.route("GET", "/agents/{agent_id}", response=AgentPublic, errors=(404,), scope="agents:read")
def get_agent(ctx: RequestContext) -> Reply:
    """One agent at its current version (ETag = version)."""
    return _agent_reply(repository.get_agent(ctx.params["agent_id"], ctx.principal))


@router.route(
    "PUT",
    "/agents/{agent_id}",
    body=AgentUpdate,
    response=AgentPublic,
    errors=(400, 403, 404, 409),
    headers=("If-Match",),
    scope="agents:write",
    body_errors=agent_body_errors,
)
def update_agent(ctx: RequestContext) -> Reply:
    """Replace the definition: stores version n+1. `If-Match: <version>` → 409 if it moved on."""
    record = service.update(ctx.params["agent_id"], ctx.principal, ctx.body, if_match=ctx.header("If-Match"))
    return _agent_reply(record)


@router.route(
    "DELETE",
    "/agents/{agent_id}",
    status=204,
    errors=(400, 403, 404, 409),
    headers=("If-Match",),
    scope="agents:write",
)
def delete_agent(ctx: RequestContext) -> None:
    """Soft-delete an agent (its versions stay for runs and marketplace snapshots)."""
    service.delete(ctx.params["agent_id"], ctx.principal, if_match=ctx.header("If-Match"))


@router.route(
    "GET",
    "/agents/{agent_id}/versions",
    query=PageQuery,
    response=AgentPage,
    errors=(404,),
    scope="agents:read",
)
def list_agent_versions(ctx: RequestContext) -> AgentPage:
    """Every stored version of an agent, newest first (cursor-paginated)."""
    records, cursor = repository.list_versions(
        ctx.params["agent_id"], ctx.principal, limit=ctx.query.limit, cursor=ctx.query.cursor
    )
    return AgentPage(items=[AgentPublic.of(r) for r in records], next_cursor=cursor)


@router.route(
    "GET", "/agents/{agent_id}/versions/{version}", response=AgentPublic, errors=(404,), scope="agents:read"
)
def get_agent_version(ctx: RequestContext) -> AgentPublic:
    """One stored version of an agent."""
    agent_id = ctx.params["agent_id"]
    repository.get_agent(agent_id, ctx.principal)
    raw = ctx.params["version"]
    if not raw.isdigit() or len(raw) > 9:
        raise repository.version_not_found(agent_id, raw)
    return AgentPublic.of(repository.get_agent_version(agent_id, int(raw)))


# -- templates ------------------------------------------------------------------------------


@router.route("GET", "/templates", auth="public", response=list[TemplatePublic], tags=("catalog",))
def list_templates(ctx: RequestContext) -> list[TemplatePublic]:
    """The built-in agent templates (create one with `POST /agents {"template", "name"}`)."""
    from shared.templates.catalog import list_templates

    return list_templates()


@router.route(
    "GET", "/templates/{name}", auth="public", response=TemplatePublic, tags=("catalog",), errors=(404,)
)
def get_template(ctx: RequestContext) -> TemplatePublic:
    """One built-in template."""
    from shared.templates.catalog import get_template

    return get_template(ctx.params["name"])


# -- workspace files --------------------------------------------------------------------------


def _file_public(file: object) -> WorkspaceFilePublic:
    return WorkspaceFilePublic.model_validate(file, from_attributes=True)


@router.route(
    "PUT",
    "/workspace/files/{path:path}",
    body_kind="raw",
    response=WorkspaceFilePublic,
    status=201,
    tags=("workspace",),
    errors=(404, 409, 413, 422),
    extra_responses={200: "Replaced an existing file"},
    scope="agents:write",
)
def put_workspace_file(ctx: RequestContext) -> Reply:
    """Upload a file (raw body, at most 10 MiB): 201 when created, 200 when it replaced one."""
    from shared.workspace import files
    from shared.workspace.transfer import read_upload

    data = read_upload(ctx.request)
    stored, created = files.put_file(ctx.principal.user_id, ctx.params["path"], data)
    headers = {"ETag": f'"{stored.sha256}"', "Location": f"/workspace/files/{stored.path}"}
    return Reply(_file_public(stored), status=201 if created else 200, headers=headers)


@router.route(
    "GET",
    "/workspace/files/{path:path}",
    tags=("workspace",),
    errors=(400, 404, 409, 422),
    response_media_type="application/octet-stream",
    scope="agents:read",
)
def get_workspace_file(ctx: RequestContext) -> flask.Response:
    """Download a file: its bytes, with a content type guessed from its name."""
    from shared.workspace import files
    from shared.workspace.transfer import file_response

    data, info = files.read_file(ctx.principal.user_id, ctx.params["path"])
    return file_response(data, info.path, info.sha256)


@router.route(
    "GET",
    "/workspace/files",
    query=WorkspaceFileListQuery,
    response=WorkspaceFilePage,
    tags=("workspace",),
    errors=(400,),
    scope="agents:read",
)
def list_workspace_files(ctx: RequestContext) -> WorkspaceFilePage:
    """My workspace's files whose path starts with `prefix`, sorted by path (cursor-paginated)."""
    from shared.workspace import files

    q: WorkspaceFileListQuery = ctx.query
    items, cursor = files.list_files(ctx.principal.user_id, prefix=q.prefix, limit=q.limit, cursor=q.cursor)
    return WorkspaceFilePage(items=[_file_public(f) for f in items], next_cursor=cursor)


@router.route(
    "DELETE",
    "/workspace/files/{path:path}",
    status=204,
    tags=("workspace",),
    errors=(400, 404, 409, 422),
    scope="agents:write",
)
def delete_workspace_file(ctx: RequestContext) -> None:
    """Delete a file."""
    from shared.workspace import files

    files.delete_file(ctx.principal.user_id, ctx.params["path"])


@router.route(
    "POST",
    "/agents/{agent_id}/mcp",
    auth="public",
    status=308,
    response=dict[str, str],
    tags=("mcp",),
)
def agent_mcp_redirect(ctx: RequestContext) -> Reply:
    """The agent's MCP endpoint lives on the runs function: a 308 to `/mcp/agents/{agent_id}`
    (MCP clients follow same-origin 307/308 redirects with the same method, body and token)."""
    from urllib.parse import quote

    location = "/mcp/agents/" + quote(ctx.params["agent_id"], safe="")
    # Permanent redirect (method and body kept); the body names the target for humans.
    return Reply({"location": location}, status=308, headers={"Location": location})


@functions_framework.http
def agents_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
