"""Connecting an ``oauth`` MCP server: OAuth 2.1 authorization code + PKCE (S256), as the MCP
authorization spec asks, for the user who starts it.

``start``: discover the authorization server (RFC 9728 protected-resource metadata, else the
server's origin; RFC 8414 metadata), register a client (RFC 7591, once per server and redirect
URI) unless the registration names one, and store a single-use state (10 minutes) with the
sealed PKCE verifier. ``finish`` (the redirect target): take the state once, check ``iss``
(RFC 9207), exchange the code with the verifier and store the tokens as the user's credential.
``refresh``: a new access token from the refresh token (``shared.mcp_servers.credentials``
calls it on expiry or a 401). Every request goes through the outbound guard; ``resource`` (RFC
8707) names the MCP server on every authorization and token request.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from shared import db
from shared.errors import BadRequest, Conflict
from shared.mcp_servers import credentials, crypto, repository
from shared.mcp_servers.credentials import Credential, McpAuthFailed
from shared.mcp_servers.schemas import (
    McpOAuthCallbackQuery,
    McpOAuthConnected,
    McpOAuthStart,
    McpServerRecord,
)
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.auth.principal import Principal

STATE_TTL = timedelta(minutes=10)
CALLBACK_PATH = "/mcp-servers/oauth/callback"


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def redirect_uri(host_url: str) -> str:
    base = get_settings().public_base_url or host_url
    return base.rstrip("/") + CALLBACK_PATH


def _failed(server: McpServerRecord, why: str) -> McpAuthFailed:
    return McpAuthFailed(
        f"connecting '{server.name}' with OAuth failed: {why}", details={"server_id": server.id}
    )


async def _get_json(client: Any, url: str) -> dict[str, Any] | None:
    try:
        response = await client.get(url, headers={"accept": "application/json"})
    except Exception as exc:
        from shared.mcp_servers.http import OutboundBlocked

        if isinstance(exc, OutboundBlocked):
            raise
        return None
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _well_known(url: str, name: str) -> list[str]:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    found = [f"{origin}/.well-known/{name}{path}"] if path else []
    return [*found, f"{origin}/.well-known/{name}"]


async def discover(server: McpServerRecord) -> dict[str, Any]:
    """The authorization server's metadata for ``server`` (see the module docstring)."""
    from shared.mcp_servers.http import guarded_client

    async with guarded_client() as client:
        issuer: str | None = None
        for url in _well_known(server.url, "oauth-protected-resource"):
            resource = await _get_json(client, url)
            servers = resource.get("authorization_servers") if resource else None
            if isinstance(servers, list) and servers:
                issuer = str(servers[0])  # pyright: ignore[reportUnknownArgumentType]
                break
        if issuer is None:
            parts = urlsplit(server.url)
            issuer = f"{parts.scheme}://{parts.netloc}"
        for url in [
            *_well_known(issuer, "oauth-authorization-server"),
            *_well_known(issuer, "openid-configuration"),
        ]:
            metadata = await _get_json(client, url)
            if metadata and metadata.get("authorization_endpoint") and metadata.get("token_endpoint"):
                break
        else:
            raise _failed(server, "no OAuth authorization server metadata was found")
        if "S256" not in (metadata.get("code_challenge_methods_supported") or []):
            raise _failed(server, "the authorization server does not support PKCE with S256")
        metadata.setdefault("issuer", issuer)
        return metadata


async def _register_client(
    server: McpServerRecord, metadata: dict[str, Any], redirect: str
) -> dict[str, Any]:
    from shared.mcp_servers.http import guarded_client

    endpoint = metadata.get("registration_endpoint")
    if not endpoint:
        raise _failed(server, "the authorization server has no client registration: set auth.client_id")
    body = {
        "client_name": "agents-service",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    async with guarded_client() as client:
        response = await client.post(str(endpoint), json=body)
    if response.status_code not in (200, 201):
        raise _failed(server, f"client registration was refused (HTTP {response.status_code})")
    data: dict[str, Any] = response.json()
    if not data.get("client_id"):
        raise _failed(server, "client registration returned no client_id")
    return data


def start(principal: Principal, server_id: str, host_url: str) -> McpOAuthStart:
    from shared import aio

    server = repository.get_server(server_id, principal.user_id)
    if server.auth.type != "oauth":
        raise Conflict(
            f"this server's auth type is '{server.auth.type}': only 'oauth' servers connect with OAuth",
            code="mcp_auth_type_mismatch",
        )
    redirect = redirect_uri(host_url)
    client_id = server.auth.client_id
    client_secret: str | None = None
    try:
        metadata = aio.run(discover(server))
        if client_id is None:
            registered = aio.run(_register_client(server, metadata, redirect))
            client_id = str(registered["client_id"])
            client_secret = registered.get("client_secret")
    except Exception as exc:
        from shared.mcp_servers.client import as_service_error

        raise as_service_error(server, exc) from None
    verifier = secrets.token_urlsafe(64)
    state = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    aad = f"mcp-oauth-state|{state}"
    sealed = crypto.seal(
        __import__("json").dumps({"code_verifier": verifier, "client_secret": client_secret}), aad=aad
    )
    db.create(
        repository.oauth_state_ref(state),
        {
            "server_id": server.id,
            "user_id": principal.user_id,
            "redirect_uri": redirect,
            "issuer": metadata.get("issuer"),
            "token_endpoint": metadata["token_endpoint"],
            "client_id": client_id,
            "sealed": sealed,
            "created_at": now,
            "expires_at": now + STATE_TTL,
        },
    )
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "state": state,
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
        "resource": server.url,
    }
    if server.auth.scopes:
        params["scope"] = " ".join(server.auth.scopes)
    endpoint = str(metadata["authorization_endpoint"])
    joiner = "&" if "?" in endpoint else "?"
    return McpOAuthStart(
        authorization_url=endpoint + joiner + urlencode(params), state=state, expires_at=now + STATE_TTL
    )


def _take_state(state: str) -> dict[str, Any]:
    """The stored state, deleted in the same transaction (a code is exchanged at most once)."""
    invalid = BadRequest("unknown or expired OAuth state: start again", code="oauth_state_invalid")
    if not db.is_valid_doc_id(state):
        raise invalid
    ref = repository.oauth_state_ref(state)

    def take(tx: db.Tx) -> dict[str, Any] | None:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if data:
            tx.delete(ref)
        return data

    data = db.run_transaction(take)
    if not data or data["expires_at"] <= datetime.now(UTC):
        raise invalid
    return data


async def _token_request(server: McpServerRecord, endpoint: str, form: dict[str, str]) -> dict[str, Any]:
    from shared.mcp_servers.http import guarded_client

    async with guarded_client() as client:
        try:
            response = await client.post(endpoint, data=form, headers={"accept": "application/json"})
        except Exception as exc:
            from shared.mcp_servers.client import as_service_error

            raise as_service_error(server, exc) from None
    if response.status_code != 200:
        raise _failed(server, f"the token endpoint refused the request (HTTP {response.status_code})")
    data: Any = response.json()
    if not isinstance(data, dict) or not data.get("access_token"):  # pyright: ignore[reportUnknownMemberType]
        raise _failed(server, "the token endpoint returned no access token")
    return data  # pyright: ignore[reportUnknownVariableType]


def _credential(
    tokens: dict[str, Any],
    *,
    endpoint: str,
    client_id: str,
    client_secret: str | None,
    resource: str,
    previous_refresh: str | None = None,
) -> Credential:
    now = datetime.now(UTC)
    expires_in = tokens.get("expires_in")
    return Credential(
        type="oauth",
        updated_at=now,
        access_token=str(tokens["access_token"]),
        expires_at=now + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float) else None,
        refresh_token=str(tokens.get("refresh_token") or previous_refresh or "") or None,
        token_endpoint=endpoint,
        client_id=client_id,
        client_secret=client_secret,
        resource=resource,
    )


def finish(query: McpOAuthCallbackQuery, host_url: str) -> McpOAuthConnected:
    import json

    from shared import aio

    stored = _take_state(query.state)
    server = repository.load_server(str(stored["server_id"]))
    if server is None or server.owner_id != stored["user_id"] or server.auth.type != "oauth":
        raise BadRequest("the MCP server of this OAuth flow no longer exists", code="oauth_state_invalid")
    if query.error:
        raise BadRequest(f"the authorization server answered: {query.error}", code="oauth_denied")
    if not query.code:
        raise BadRequest("the callback carries no code", code="oauth_denied")
    if query.iss is not None and stored.get("issuer") and query.iss != stored["issuer"]:
        raise BadRequest(
            "the callback's issuer is not the authorization server we asked", code="oauth_denied"
        )
    secret = json.loads(crypto.open_sealed(str(stored["sealed"]), aad=f"mcp-oauth-state|{query.state}"))
    form = {
        "grant_type": "authorization_code",
        "code": query.code,
        "redirect_uri": str(stored["redirect_uri"]),
        "client_id": str(stored["client_id"]),
        "code_verifier": str(secret["code_verifier"]),
        "resource": server.url,
    }
    if secret.get("client_secret"):
        form["client_secret"] = str(secret["client_secret"])
    tokens = aio.run(_token_request(server, str(stored["token_endpoint"]), form))
    credential = _credential(
        tokens,
        endpoint=str(stored["token_endpoint"]),
        client_id=str(stored["client_id"]),
        client_secret=secret.get("client_secret"),
        resource=server.url,
    )
    credentials.store(server.id, str(stored["user_id"]), credential)
    return McpOAuthConnected(server_id=server.id, expires_at=credential.expires_at)


async def refresh(credential: Credential) -> Credential:
    """New tokens for an OAuth credential (``McpAuthFailed`` when refused)."""
    if not credential.refresh_token or not credential.token_endpoint or not credential.client_id:
        raise McpAuthFailed(
            "the OAuth access token expired and cannot be refreshed: connect the server again"
        )
    form = {
        "grant_type": "refresh_token",
        "refresh_token": credential.refresh_token,
        "client_id": credential.client_id,
    }
    if credential.resource:
        form["resource"] = credential.resource
    if credential.client_secret:
        form["client_secret"] = credential.client_secret
    placeholder = McpServerRecord(
        id="-",
        owner_id="-",
        name=urlsplit(credential.resource or "").netloc or "MCP server",
        url=credential.resource or "https://invalid/",
        created_at=credential.updated_at,
        updated_at=credential.updated_at,
    )
    tokens = await _token_request(placeholder, credential.token_endpoint, form)
    return _credential(
        tokens,
        endpoint=credential.token_endpoint,
        client_id=credential.client_id,
        client_secret=credential.client_secret,
        resource=credential.resource or "",
        previous_refresh=credential.refresh_token,
    )
