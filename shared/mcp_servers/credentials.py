"""Per-runner credentials for MCP servers: ``mcp_servers/{id}/credentials/{user_id}``.

A credential belongs to the user who runs agents (the document id is theirs), never to an
agent. Its secret part is sealed (``shared.mcp_servers.crypto``, bound to server and user);
the document also says its type, when it was stored and, for OAuth, when the access token
expires. Nothing here is ever returned by the API.

OAuth access tokens are refreshed with the refresh token when they are within a minute of
expiry (or when the server answered 401); a refresh that loses a race with another instance
(rotated refresh token) takes the token that instance stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared import db
from shared.errors import ServiceError
from shared.mcp_servers import crypto
from shared.mcp_servers.repository import credential_ref
from shared.mcp_servers.schemas import McpCredentialStatus, McpServerRecord

REFRESH_MARGIN = timedelta(seconds=60)


class McpNotConnected(ServiceError):
    status = 409
    code = "mcp_server_not_connected"


class McpAuthFailed(ServiceError):
    status = 502
    code = "mcp_auth_failed"


@dataclass
class Credential:
    type: Literal["bearer", "oauth"]
    updated_at: datetime
    access_token: str
    expires_at: datetime | None = None
    refresh_token: str | None = None
    # OAuth: where and as whom to refresh.
    token_endpoint: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    resource: str | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def expiring(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at - REFRESH_MARGIN <= now


def _aad(server_id: str, user_id: str) -> str:
    return f"mcp-credential|{server_id}|{user_id}"


def _doc(server_id: str, user_id: str, credential: Credential) -> dict[str, Any]:
    secret = {
        "access_token": credential.access_token,
        "refresh_token": credential.refresh_token,
        "token_endpoint": credential.token_endpoint,
        "client_id": credential.client_id,
        "client_secret": credential.client_secret,
        "resource": credential.resource,
    }
    return {
        "type": credential.type,
        "sealed": crypto.seal(json.dumps(secret), aad=_aad(server_id, user_id)),
        "updated_at": credential.updated_at,
        "expires_at": credential.expires_at,
    }


def store(server_id: str, user_id: str, credential: Credential) -> None:
    db.set(credential_ref(server_id, user_id), _doc(server_id, user_id, credential))


def put_bearer(server: McpServerRecord, user_id: str, token: str) -> McpCredentialStatus:
    now = datetime.now(UTC)
    store(server.id, user_id, Credential(type="bearer", updated_at=now, access_token=token))
    return McpCredentialStatus(server_id=server.id, type="bearer", updated_at=now)


def load(server_id: str, user_id: str) -> Credential | None:
    snap = db.get(credential_ref(server_id, user_id))
    data = snap.to_dict() if snap.exists else None
    if not data:
        return None
    try:
        secret = json.loads(crypto.open_sealed(str(data["sealed"]), aad=_aad(server_id, user_id)))
    except (crypto.SealedValueError, KeyError, ValueError):
        return None
    return Credential(
        type=data.get("type", "bearer"),
        updated_at=data["updated_at"],
        expires_at=data.get("expires_at"),
        access_token=secret.get("access_token") or "",
        refresh_token=secret.get("refresh_token"),
        token_endpoint=secret.get("token_endpoint"),
        client_id=secret.get("client_id"),
        client_secret=secret.get("client_secret"),
        resource=secret.get("resource"),
    )


def status(server_id: str, user_id: str) -> McpCredentialStatus | None:
    snap = db.get(credential_ref(server_id, user_id))
    data = snap.to_dict() if snap.exists else None
    if not data:
        return None
    return McpCredentialStatus(
        server_id=server_id,
        type=data.get("type", "bearer"),
        updated_at=data["updated_at"],
        expires_at=data.get("expires_at"),
    )


def delete(server_id: str, user_id: str) -> bool:
    ref = credential_ref(server_id, user_id)
    existed = bool(db.get(ref).exists)
    db.delete(ref)
    return existed


def not_connected(server: McpServerRecord) -> McpNotConnected:
    how = (
        f"GET /mcp-servers/{server.id}/oauth/start"
        if server.auth.type == "oauth"
        else f"PUT /mcp-servers/{server.id}/credential"
    )
    return McpNotConnected(
        f"the MCP server '{server.name}' needs your credential: connect it with {how}",
        details={"server_id": server.id},
    )


async def access_token(server: McpServerRecord, user_id: str, *, force_refresh: bool = False) -> str:
    """The runner's current access token for ``server`` (refreshed when expiring)."""
    import asyncio

    credential = await asyncio.to_thread(load, server.id, user_id)
    if credential is None or not credential.access_token:
        raise not_connected(server)
    if credential.type == "bearer":
        return credential.access_token
    now = datetime.now(UTC)
    if not force_refresh and not credential.expiring(now):
        return credential.access_token
    from shared.mcp_servers.oauth import refresh

    try:
        refreshed = await refresh(credential)
    except McpAuthFailed:
        latest = await asyncio.to_thread(load, server.id, user_id)
        if latest is not None and latest.access_token != credential.access_token and not latest.expiring(now):
            return latest.access_token  # another instance refreshed first
        raise
    await asyncio.to_thread(store, server.id, user_id, refreshed)
    return refreshed.access_token
