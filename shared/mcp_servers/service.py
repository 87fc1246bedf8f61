"""The MCP servers API: register, list, show, update, delete; list tools (cached) and accept
new ones; store or forget the caller's credential. Owner-only (others: 404).

Tool review: the first successful listing takes the server's tools as accepted. A tool the
server adds later is ``pending``: agents do not get it until the owner accepts it
(``POST /mcp-servers/{id}/tools/accept``). Runs apply the same review to what the server
lists at run time (``shared.mcp_servers.toolsets``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import db, outbound
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.mcp_servers import credentials, repository
from shared.mcp_servers.schemas import (
    McpCredentialPut,
    McpCredentialStatus,
    McpServerCreate,
    McpServerPage,
    McpServerPublic,
    McpServerRecord,
    McpServerUpdate,
    McpToolList,
    McpToolPublic,
    McpToolsAccept,
)
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.auth.principal import Principal


def _public(record: McpServerRecord, user_id: str) -> McpServerPublic:
    connected = record.auth.type == "none" or repository.has_credential(record.id, user_id)
    return record.public(connected=connected)


def create(principal: Principal, body: McpServerCreate, *, listing_id: str | None = None) -> McpServerPublic:
    outbound.check_url(body.url)
    limit = get_settings().mcp_servers_max_per_user
    if repository.count_servers(principal.user_id) >= limit:
        raise Conflict(f"at most {limit} MCP servers per user", code="mcp_server_limit_reached")
    now = datetime.now(UTC)
    record = McpServerRecord(
        id=uuid.uuid4().hex,
        owner_id=principal.user_id,
        name=body.name,
        url=body.url,
        auth=body.auth,
        allowed_tools=body.allowed_tools,
        description=body.description,
        listing_id=listing_id,
        created_at=now,
        updated_at=now,
    )
    db.create(repository.server_ref(record.id), repository.to_doc(record))
    return record.public(connected=record.auth.type == "none")


def list_mine(principal: Principal, *, limit: int, cursor: str | None) -> McpServerPage:
    records, next_cursor = repository.list_servers(principal.user_id, limit=limit, cursor=cursor)
    return McpServerPage(items=[_public(r, principal.user_id) for r in records], next_cursor=next_cursor)


def get(principal: Principal, server_id: str) -> McpServerPublic:
    return _public(repository.get_server(server_id, principal.user_id), principal.user_id)


def _mutate(principal: Principal, server_id: str, change: Any) -> McpServerRecord:
    """Apply ``change(record) -> dict`` to the caller's registration in a transaction."""
    if not db.is_valid_doc_id(server_id):
        raise repository.not_found(server_id)
    ref = repository.server_ref(server_id)

    def apply(tx: db.Tx) -> McpServerRecord:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("owner_id") != principal.user_id:
            raise repository.not_found(server_id)
        record = repository.server_from(server_id, data)
        changes: dict[str, Any] = {**change(record), "updated_at": datetime.now(UTC)}
        tx.update(ref, changes)
        return record.model_copy(
            update={k: v for k, v in changes.items() if k in McpServerRecord.model_fields}
        )

    return db.run_transaction(apply)


def update(principal: Principal, server_id: str, body: McpServerUpdate) -> McpServerPublic:
    if body.url is not None:
        outbound.check_url(body.url)
    moved: list[bool] = []

    def change(record: McpServerRecord) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        fields = body.model_dump(exclude_unset=True)
        for name in ("name", "description"):
            if fields.get(name) is not None:
                changes[name] = fields[name]
        if "allowed_tools" in fields:
            changes["allowed_tools"] = body.allowed_tools
        if body.auth is not None:
            changes["auth"] = body.auth.model_dump()
        url_changed = body.url is not None and body.url != record.url
        auth_changed = body.auth is not None and body.auth.type != record.auth.type
        if url_changed:
            changes["url"] = body.url
        if url_changed or auth_changed:
            # Another server (or another way in): its tools must be listed and reviewed again.
            changes.update(tools=[], tools_fetched_at=None, accepted_tools=None, pending_tools=[])
        moved.append(url_changed or auth_changed)
        return changes

    record = _mutate(principal, server_id, change)
    if moved and moved[-1]:
        # Credentials were given for the old server: never send them to a new URL.
        repository.delete_credentials(server_id)
    return _public(record, principal.user_id)


def delete(principal: Principal, server_id: str) -> None:
    repository.get_server(server_id, principal.user_id)
    repository.delete_server(server_id)


# -- tools -------------------------------------------------------------------------------------


def reviewed(
    record: McpServerRecord, listed: list[McpToolPublic]
) -> tuple[list[McpToolPublic], dict[str, Any]]:
    """``listed`` with each tool's review status and allow-list flag, and the record changes
    (baseline on the first listing; new names become pending)."""
    names = [t.name for t in listed]
    changes: dict[str, Any] = {}
    accepted = record.accepted_tools
    pending = list(record.pending_tools)
    if accepted is None:
        accepted = names
        changes["accepted_tools"] = accepted
    new = [n for n in names if n not in accepted and n not in pending]
    if new:
        pending = [*pending, *new]
        changes["pending_tools"] = pending
    allowed = set(record.allowed_tools) if record.allowed_tools is not None else None
    tools = [
        t.model_copy(
            update={
                "status": "enabled" if t.name in accepted else "pending",
                "allowed": allowed is None or t.name in allowed,
            }
        )
        for t in listed
    ]
    return tools, changes


def tools(principal: Principal, server_id: str, *, refresh: bool) -> McpToolList:
    record = repository.get_server(server_id, principal.user_id)
    now = datetime.now(UTC)
    ttl = timedelta(seconds=get_settings().mcp_tools_cache_seconds)
    fetched = record.tools_fetched_at
    if not refresh and fetched is not None and now - fetched < ttl:
        return McpToolList(server_id=record.id, tools=record.tools, fetched_at=fetched, cached=True)
    from shared import aio
    from shared.mcp_servers.client import list_tools

    listed = aio.run(list_tools(record, principal.user_id))
    tools, changes = reviewed(record, listed)
    store_listing(record.id, tools, now, changes)
    return McpToolList(server_id=record.id, tools=tools, fetched_at=now, cached=False)


def store_listing(server_id: str, tools: list[McpToolPublic], now: datetime, changes: dict[str, Any]) -> None:
    from google.cloud.firestore import ArrayUnion

    update: dict[str, Any] = {
        "tools": [t.model_dump(mode="python") for t in tools],
        "tools_fetched_at": now,
    }
    if "accepted_tools" in changes:
        update["accepted_tools"] = changes["accepted_tools"]
    if changes.get("pending_tools"):
        # A union: concurrent listings never drop each other's new names.
        update["pending_tools"] = ArrayUnion(changes["pending_tools"])
    try:
        db.update(repository.server_ref(server_id), update)
    except Exception as exc:  # deleted meanwhile: nothing to cache
        if type(exc).__name__ != "NotFound":
            raise


def accept_tools(principal: Principal, server_id: str, body: McpToolsAccept) -> McpServerPublic:
    def change(record: McpServerRecord) -> dict[str, Any]:
        unknown = [
            n for n in body.tools if n not in record.pending_tools and n not in (record.accepted_tools or [])
        ]
        if unknown:
            raise ValidationFailed.field(
                "tools", f"not tools of this server awaiting review: {', '.join(unknown)}"
            )
        accepted = list(dict.fromkeys([*(record.accepted_tools or []), *body.tools]))
        pending = [n for n in record.pending_tools if n not in body.tools]
        tools = [
            t.model_copy(update={"status": "enabled"}) if t.name in body.tools else t for t in record.tools
        ]
        return {
            "accepted_tools": accepted,
            "pending_tools": pending,
            "tools": [t.model_dump(mode="python") for t in tools],
        }

    return _public(_mutate(principal, server_id, change), principal.user_id)


# -- credentials -------------------------------------------------------------------------------


def put_credential(principal: Principal, server_id: str, body: McpCredentialPut) -> McpCredentialStatus:
    record = repository.get_server(server_id, principal.user_id)
    if record.auth.type != "bearer":
        raise Conflict(
            f"this server's auth type is '{record.auth.type}': a bearer token is only stored for 'bearer'",
            code="mcp_auth_type_mismatch",
        )
    return credentials.put_bearer(record, principal.user_id, body.token)


def credential_status(principal: Principal, server_id: str) -> McpCredentialStatus:
    record = repository.get_server(server_id, principal.user_id)
    found = credentials.status(record.id, principal.user_id)
    if found is None:
        raise NotFound("you have no credential stored for this MCP server", code="mcp_credential_not_found")
    return found


def delete_credential(principal: Principal, server_id: str) -> None:
    record = repository.get_server(server_id, principal.user_id)
    credentials.delete(record.id, principal.user_id)
