"""The marketplace service: what the HTTP handlers call."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared import db
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.marketplace import repository, stats
from shared.marketplace.bundle import bundle_of, publishable
from shared.marketplace.categories import CATEGORIES
from shared.marketplace.schemas import (
    Bundle,
    CategoryPublic,
    ListingCreate,
    ListingDetail,
    ListingRecord,
    ListingVersionPublic,
    ManifestMcpServer,
    ManifestMcpTool,
)

if TYPE_CHECKING:
    from shared.agents.definition import AgentDefinition
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

_log = logging.getLogger(__name__)


def _self_contained(agent: AgentRecord) -> None:
    """Delegates and workflow steps name the publisher's private agents: an install could not run them."""
    definition = agent.definition
    if definition.delegates:
        raise ValidationFailed.field(
            "agent_id", "agents with delegates cannot be published (they call private agents)"
        )
    if definition.kind == "workflow":
        raise ValidationFailed.field(
            "agent_id", "workflow agents cannot be published (their steps are private agents)"
        )


def mcp_manifest(definition: AgentDefinition, owner_id: str) -> list[ManifestMcpServer]:
    """The MCP servers the agent uses as the manifest lists them: URL, auth type and the
    tools the agent may call (from the reviewed tools cache), never a credential."""
    if not definition.mcp_servers:
        return []
    from shared.mcp_servers.repository import load_servers

    found = load_servers([ref.server_id for ref in definition.mcp_servers])
    servers: list[ManifestMcpServer] = []
    for index, ref in enumerate(definition.mcp_servers):
        server = found.get(ref.server_id)
        if server is None or server.owner_id != owner_id:
            raise ValidationFailed.field(f"mcp_servers[{index}].server_id", "MCP server not found")
        if server.tools_fetched_at is None:
            raise ValidationFailed.field(
                f"mcp_servers[{index}].server_id",
                f"list the tools of '{server.name}' once (GET /mcp-servers/{server.id}/tools) so the "
                "listing can show them",
            )
        wanted = set(ref.allowed_tools) if ref.allowed_tools is not None else None
        tools = [
            ManifestMcpTool(name=t.name, description=t.description, input_schema=t.input_schema)
            for t in server.tools
            if t.status == "enabled" and t.allowed and (wanted is None or t.name in wanted)
        ]
        servers.append(
            ManifestMcpServer(
                server_id=server.id, name=server.name, url=server.url, auth_type=server.auth.type, tools=tools
            )
        )
    return servers


def _install_mcp_servers(
    record: ListingRecord, definition: AgentDefinition, principal: Principal
) -> tuple[AgentDefinition, list[str]]:
    """The installer's own registration of each server the listing names (reused when they
    already registered that URL), with the manifest's tools as the reviewed baseline, and the
    definition pointing at them. The installer then connects each with their credential."""
    if not record.mcp_servers:
        return definition, []
    from shared.mcp_servers import repository as mcp_repository
    from shared.mcp_servers import service as mcp_service
    from shared.mcp_servers.schemas import McpAuth, McpServerCreate

    mapping: dict[str, str] = {}
    for server in record.mcp_servers:
        mine = mcp_repository.find_by_url(principal.user_id, server.url)
        if mine is None:
            created = mcp_service.create(
                principal,
                McpServerCreate(name=server.name, url=server.url, auth=McpAuth(type=server.auth_type)),
                listing_id=record.id,
            )
            db.update(
                mcp_repository.server_ref(created.id),
                {"accepted_tools": [t.name for t in server.tools]},
            )
            mapping[server.server_id] = created.id
        else:
            mapping[server.server_id] = mine.id
    refs = [
        ref.model_copy(update={"server_id": mapping.get(ref.server_id, ref.server_id)})
        for ref in definition.mcp_servers
    ]
    return definition.model_copy(update={"mcp_servers": refs}), list(dict.fromkeys(mapping.values()))


def publish(principal: Principal, body: ListingCreate) -> repository.Published:
    """Publish the caller's agent at its current version (or move its listing to it)."""
    from shared.agents.repository import get_agent

    agent = get_agent(body.agent_id, principal)
    if agent.owner_id != principal.user_id:
        raise Forbidden("only the agent's owner can publish it")
    _self_contained(agent)
    if body.eval_dataset_id is not None:
        from shared.evals import datasets

        datasets.owned(principal, body.eval_dataset_id)  # 404 before anything is written
    mcp_servers = mcp_manifest(agent.definition, principal.user_id)
    published = repository.publish(agent, publishable(agent.definition), body, principal, mcp_servers)
    if published.record.eval_dataset_id:
        from shared.evals.verified import attach_and_verify

        attach_and_verify(
            published.record.id, agent.owner_id, agent.id, agent.version, published.record.eval_dataset_id
        )
    _log.info(
        "listing published",
        extra={"listing_id": published.record.id, "agent_id": agent.id, "version": agent.version},
    )
    return published


def versions(listing_id: str) -> list[ListingVersionPublic]:
    """A live listing's published versions with the service's eval of each, newest first."""
    repository.get_listing(listing_id)
    return [ListingVersionPublic.model_validate(v) for v in repository.list_versions(listing_id)]


def detail(listing_id: str) -> ListingDetail:
    record = repository.get_listing(listing_id)
    return ListingDetail.detail(record, stats.current_stats(listing_id))


def install(
    listing_id: str, principal: Principal, *, idempotency_key: str | None, name: str | None = None
) -> tuple[AgentRecord, bool]:
    """My copy of the listing's snapshot (``source`` set) and whether this call created it.

    Installing again returns the copy I already have (still mine, not deleted) unless
    ``name`` asks for another copy under that name; the publisher cannot install their own
    listing (409 ``own_listing``: they have the agent). Names are unique per owner, so a copy
    whose name I already use is 409 ``name_taken`` (install under another ``name``).
    """
    from shared.agents import service as agents
    from shared.agents.repository import AgentSource, check_name_free, load_current
    from shared.agents.validation import approval_tools, mcp_approval_markers

    record = repository.get_listing(listing_id)
    if record.owner_id == principal.user_id:
        raise Conflict(
            "this is your own listing: you already have the agent, there is nothing to install",
            code="own_listing",
            details={"agent_id": record.agent_id},
        )
    if name is None:
        existing = repository.installed_agent_id(record.id, principal.user_id)
        current = load_current([existing]).get(existing) if existing else None
        if current is not None and current.owner_id == principal.user_id:
            return current, False
    definition = record.definition if name is None else record.definition.model_copy(update={"name": name})
    if record.mcp_servers:
        # The server registrations are written before the agent: a clashing name must
        # refuse the install before them, so a refused install leaves nothing behind.
        check_name_free(principal.user_id, definition.name)
    definition, mcp_servers = _install_mcp_servers(record, definition, principal)
    agent = agents.create(
        principal,
        definition,
        idempotency_key=idempotency_key,
        source=AgentSource(
            listing_id=record.id,
            listing_version=record.version,
            approval_tools=[*approval_tools(record.definition), *mcp_approval_markers(definition)],
            mcp_servers=mcp_servers,
        ),
    )
    if repository.mark_installed(record.id, principal.user_id, agent.id):
        stats.add(record.id, installs=1)
        stats.fold(record.id)
    return agent, True


def download(listing_id: str) -> Bundle:
    return bundle_of(repository.get_listing(listing_id))


def delete(listing_id: str, principal: Principal) -> None:
    repository.delete_listing(listing_id, principal)
    _log.info("listing removed", extra={"listing_id": listing_id, "by": principal.user_id})


def categories() -> list[CategoryPublic]:
    """The fixed categories with their live listing counts (one count query each)."""
    from google.cloud.firestore import FieldFilter

    listings: Any = db.collection(repository.LISTINGS)
    out: list[CategoryPublic] = []
    for category in CATEGORIES:
        query: Any = listings.where(filter=FieldFilter("deleted", "==", False)).where(
            filter=FieldFilter("category", "==", category.id)
        )
        out.append(
            CategoryPublic(
                id=category.id, name=category.name, description=category.description, count=db.count(query)
            )
        )
    return out
