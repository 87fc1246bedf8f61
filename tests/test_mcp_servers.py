"""Remote MCP servers (issue 19, first part): registrations, tools listing (cache, refresh,
review of new tools), write-only per-user credentials and the outbound guard.

Against the emulators and a real MCP server built with the official ``mcp`` SDK on loopback
(tests/mcp_server_fixture.py). Runs that use MCP tools: tests/test_mcp_runs.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import db
from tests.conftest import ApiClient, TestUser
from tests.mcp_server_fixture import TestMcpServer, mcp_server
from tests.test_runs import error_code


@pytest.fixture(scope="module")
def server() -> Iterator[TestMcpServer]:
    with mcp_server() as running:
        yield running


def register(api: ApiClient, user: TestUser, url: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/mcp-servers", token=user.token, json={"name": "tools", "url": url, **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/mcp-servers/{response.get_json()['id']}"
    return response.get_json()


def tool_names(listing: dict[str, Any]) -> list[str]:
    return sorted(t["name"] for t in listing["tools"])


def test_register_list_show_update_delete(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    created = register(agents_api, user, "https://mcp.example.com/mcp", description="d")
    assert created["auth"]["type"] == "none" and created["connected"] is True
    path = f"/mcp-servers/{created['id']}"
    assert agents_api.get("/mcp-servers", token=user.token).get_json()["items"][0]["id"] == created["id"]
    assert agents_api.get("/mcp-servers", token=other_user.token).get_json()["items"] == []
    assert agents_api.get(path, token=other_user.token).status_code == 404
    assert agents_api.patch(path, token=other_user.token, json={"name": "x"}).status_code == 404
    assert agents_api.delete(path, token=other_user.token).status_code == 404
    changed = agents_api.patch(path, token=user.token, json={"name": "renamed", "allowed_tools": ["echo"]})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["name"] == "renamed" and changed.get_json()["allowed_tools"] == ["echo"]
    assert agents_api.delete(path, token=user.token).status_code == 204
    assert agents_api.get(path, token=user.token).status_code == 404


def test_bad_registrations_are_refused_and_write_nothing(agents_api: ApiClient, user: TestUser) -> None:
    for body in (
        {"name": "x", "url": "ftp://mcp.example.com"},
        {"name": "x", "url": "https://10.0.0.8/mcp"},
        {"name": "x", "url": "https://169.254.169.254/"},
        {"name": "x", "url": "https://metadata.google.internal/"},
        {"name": "x", "url": "https://u:p@mcp.example.com/"},
        {"name": "x", "url": "https://mcp.example.com", "auth": {"type": "basic"}},
        {"name": "x", "url": "https://mcp.example.com", "allowed_tools": ["a", "a"]},
        {"name": "", "url": "https://mcp.example.com"},
    ):
        assert error_code(agents_api.post("/mcp-servers", token=user.token, json=body), 422)
    assert agents_api.get("/mcp-servers", token=user.token).get_json()["items"] == []


def test_tools_are_listed_cached_and_refreshed(
    agents_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    created = register(agents_api, user, server.url, allowed_tools=["echo", "add"])
    path = f"/mcp-servers/{created['id']}/tools"
    first = agents_api.get(path, token=user.token)
    assert first.status_code == 200, first.get_data(as_text=True)
    listing = first.get_json()
    assert tool_names(listing) == ["add", "echo", "whoami"] and listing["cached"] is False
    by_name = {t["name"]: t for t in listing["tools"]}
    assert by_name["echo"]["input_schema"]["properties"]["text"]["type"] == "string"
    assert by_name["whoami"]["allowed"] is False and by_name["echo"]["allowed"] is True
    requests_before = len(server.seen_tokens)
    cached = agents_api.get(path, token=user.token).get_json()
    assert cached["cached"] is True and tool_names(cached) == tool_names(listing)
    assert len(server.seen_tokens) == requests_before  # the cache answered
    fresh = agents_api.get(path, token=user.token, query_string={"refresh": "true"}).get_json()
    assert fresh["cached"] is False and len(server.seen_tokens) > requests_before


def test_new_server_tools_stay_pending_until_accepted(
    agents_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    created = register(agents_api, user, server.url)
    path = f"/mcp-servers/{created['id']}"
    baseline = agents_api.get(path + "/tools", token=user.token).get_json()
    assert all(t["status"] == "enabled" for t in baseline["tools"])
    server.add_tool("drift_review")
    listing = agents_api.get(path + "/tools", token=user.token, query_string={"refresh": "1"}).get_json()
    status = {t["name"]: t["status"] for t in listing["tools"]}
    assert status["drift_review"] == "pending" and status["echo"] == "enabled"
    assert agents_api.get(path, token=user.token).get_json()["pending_tools"] == ["drift_review"]
    assert error_code(
        agents_api.post(path + "/tools/accept", token=user.token, json={"tools": ["nope"]}), 422
    )
    accepted = agents_api.post(path + "/tools/accept", token=user.token, json={"tools": ["drift_review"]})
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert accepted.get_json()["pending_tools"] == []
    cached = agents_api.get(path + "/tools", token=user.token).get_json()
    assert {t["name"]: t["status"] for t in cached["tools"]}["drift_review"] == "enabled"


def test_credentials_are_write_only_per_user_and_sealed(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    server = register(agents_api, user, "https://mcp.example.com/mcp", auth={"type": "bearer"})
    assert server["connected"] is False
    path = f"/mcp-servers/{server['id']}/credential"
    assert error_code(agents_api.get(path, token=user.token), 404) == "mcp_credential_not_found"
    stored = agents_api.put(path, token=user.token, json={"token": "sekrit-token-1"})
    assert stored.status_code == 200, stored.get_data(as_text=True)
    assert "sekrit" not in stored.get_data(as_text=True)
    assert stored.get_json()["type"] == "bearer"
    assert "sekrit" not in agents_api.get(path, token=user.token).get_data(as_text=True)
    assert agents_api.get(f"/mcp-servers/{server['id']}", token=user.token).get_json()["connected"] is True
    # Nobody else can store or read one on my registration.
    assert agents_api.put(path, token=other_user.token, json={"token": "x"}).status_code == 404
    # At rest: sealed, bound to this server and user.
    doc = (
        db.collection("mcp_servers").document(server["id"]).collection("credentials").document(user.id).get()
    )
    data = doc.to_dict() or {}
    assert "sekrit" not in repr(data) and str(data["sealed"]).startswith("v1.")
    from shared.mcp_servers import credentials, crypto

    assert credentials.load(server["id"], user.id).access_token == "sekrit-token-1"  # type: ignore[union-attr]
    with pytest.raises(crypto.SealedValueError):
        crypto.open_sealed(str(data["sealed"]), aad=f"mcp-credential|{server['id']}|{other_user.id}")
    assert agents_api.delete(path, token=user.token).status_code == 204
    assert agents_api.get(path, token=user.token).status_code == 404


def test_a_bearer_token_is_only_stored_for_bearer_servers(agents_api: ApiClient, user: TestUser) -> None:
    server = register(agents_api, user, "https://mcp.example.com/mcp")
    response = agents_api.put(
        f"/mcp-servers/{server['id']}/credential", token=user.token, json={"token": "t"}
    )
    assert error_code(response, 409) == "mcp_auth_type_mismatch"


def test_listing_uses_my_credential_and_says_when_i_have_none(agents_api: ApiClient, user: TestUser) -> None:
    with mcp_server(tokens={"token-of-ada"}) as guarded:
        server = register(agents_api, user, guarded.url, auth={"type": "bearer"})
        path = f"/mcp-servers/{server['id']}"
        assert (
            error_code(agents_api.get(path + "/tools", token=user.token), 409) == "mcp_server_not_connected"
        )
        agents_api.put(path + "/credential", token=user.token, json={"token": "wrong"})
        assert error_code(agents_api.get(path + "/tools", token=user.token), 502) == "mcp_auth_failed"
        agents_api.put(path + "/credential", token=user.token, json={"token": "token-of-ada"})
        assert agents_api.get(path + "/tools", token=user.token).status_code == 200
        assert guarded.seen_tokens[-1] == "token-of-ada"


def test_a_changed_url_forgets_credentials(agents_api: ApiClient, user: TestUser) -> None:
    server = register(agents_api, user, "https://mcp.example.com/mcp", auth={"type": "bearer"})
    path = f"/mcp-servers/{server['id']}"
    agents_api.put(path + "/credential", token=user.token, json={"token": "t"})
    moved = agents_api.patch(path, token=user.token, json={"url": "https://other.example.com/mcp"}).get_json()
    assert moved["connected"] is False


def test_cloud_mode_refuses_loopback_private_and_plain_http(
    agents_api: ApiClient, user: TestUser, server: TestMcpServer, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = register(agents_api, user, server.url)
    env(ENVIRONMENT="cloud")
    # Saved URLs: http and literal private addresses are refused.
    assert error_code(
        agents_api.post("/mcp-servers", token=user.token, json={"name": "x", "url": server.url}), 422
    )
    # A stored URL (registered locally) is refused when the service connects: after DNS.
    response = agents_api.get(f"/mcp-servers/{created['id']}/tools", token=user.token)
    assert error_code(response, 502) == "mcp_server_refused"
    assert "https" in response.get_json()["error"]["message"]
    # A name resolving to a private address is refused after DNS, before any connection.
    import socket

    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "internal.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    sneaky = agents_api.post(
        "/mcp-servers", token=user.token, json={"name": "x", "url": "https://internal.example.com/mcp"}
    )
    assert sneaky.status_code == 201  # a name: checked when connecting
    refused = agents_api.get(f"/mcp-servers/{sneaky.get_json()['id']}/tools", token=user.token)
    assert error_code(refused, 502) == "mcp_server_refused"
    assert "private" in refused.get_json()["error"]["message"]


def test_a_session_mode_server_works_too(agents_api: ApiClient, user: TestUser) -> None:
    with mcp_server(stateless=False) as session_server:
        created = register(agents_api, user, session_server.url)
        listing = agents_api.get(f"/mcp-servers/{created['id']}/tools", token=user.token)
        assert listing.status_code == 200, listing.get_data(as_text=True)
        assert tool_names(listing.get_json()) == ["add", "echo", "whoami"]


def test_redirects_are_not_followed_to_private_addresses(agents_api: ApiClient, user: TestUser) -> None:
    from shared.mcp_servers.http import OutboundBlocked, guarded_client
    from tests.webhook_receiver import webhook_receiver

    with webhook_receiver("/mcp") as redirector:
        redirector.redirect_to = "http://10.20.30.40/mcp"
        created = register(agents_api, user, redirector.url)
        response = agents_api.get(f"/mcp-servers/{created['id']}/tools", token=user.token)
        assert error_code(response, 502) == "mcp_server_redirected"  # the MCP client never follows one

        # OAuth requests follow redirects, each hop through the guard: the private hop is refused.
        async def post() -> None:
            async with guarded_client() as client:
                await client.post(redirector.url, json={})

        import asyncio

        with pytest.raises(OutboundBlocked, match="private"):
            asyncio.run(post())
