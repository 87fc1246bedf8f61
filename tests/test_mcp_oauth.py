"""Connecting an MCP server with OAuth 2.1 (authorization code + PKCE S256) against a local
authorization server (tests/mcp_server_fixture.py): discovery, dynamic client registration,
the single-use state, the code exchange, and refresh on expiry — then a run with the tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from shared import db
from tests.conftest import ApiClient, TestUser
from tests.mcp_server_fixture import mcp_server
from tests.test_mcp_servers import register
from tests.test_runs import create_agent, error_code, run


def browser_consents(authorization_url: str) -> dict[str, str]:
    """What a browser does: open the authorization URL; the server redirects back with a code."""
    response = httpx2.get(authorization_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/mcp-servers/oauth/callback"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_oauth_connects_refreshes_and_runs(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    with mcp_server(tokens={"nobody-has-this"}, oauth=True) as server:
        assert server.oauth is not None
        created = register(agents_api, user, server.url, auth={"type": "oauth", "scopes": ["tools"]})
        path = f"/mcp-servers/{created['id']}"
        assert created["connected"] is False
        started = agents_api.get(path + "/oauth/start", token=user.token)
        assert started.status_code == 200, started.get_data(as_text=True)
        url = started.get_json()["authorization_url"]
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["tools"]
        assert query["resource"] == [server.url] and len(server.oauth.clients) == 1  # registered (RFC 7591)
        callback = browser_consents(url)
        assert callback["state"] == started.get_json()["state"]
        # A wrong issuer is refused (RFC 9207) ... and the state is spent either way.
        forged = agents_api.get(
            "/mcp-servers/oauth/callback", query_string={**callback, "iss": "https://evil.example"}
        )
        assert error_code(forged, 400) == "oauth_denied"
        assert (
            error_code(agents_api.get("/mcp-servers/oauth/callback", query_string=callback), 400)
            == "oauth_state_invalid"
        )

        # Again, properly: the code is exchanged with the PKCE verifier (the server checks it).
        url = agents_api.get(path + "/oauth/start", token=user.token).get_json()["authorization_url"]
        callback = browser_consents(url)
        done = agents_api.get("/mcp-servers/oauth/callback", query_string=callback)
        assert done.status_code == 200, done.get_data(as_text=True)
        assert done.get_json() == {
            "server_id": created["id"],
            "connected": True,
            "expires_at": done.get_json()["expires_at"],
        }
        assert agents_api.get(path, token=user.token).get_json()["connected"] is True
        issued = server.oauth.issued
        listing = agents_api.get(path + "/tools", token=user.token)
        assert listing.status_code == 200, listing.get_data(as_text=True)
        first_token = server.seen_tokens[-1]
        assert first_token is not None and first_token.startswith("at-")

        # The access token expired: the next use refreshes it first.
        ref = db.collection("mcp_servers").document(created["id"]).collection("credentials").document(user.id)
        ref.update({"expires_at": datetime.now(UTC) - timedelta(minutes=5)})
        agents_api.get(path + "/tools", token=user.token, query_string={"refresh": "1"})
        assert server.oauth.refreshed == 1 and server.oauth.issued == issued + 1
        assert server.seen_tokens[-1] != first_token and server.seen_tokens[-1].startswith("at-")

        # The server revoked the token: a 401 makes the run refresh once and go on.
        server.tokens.discard(server.seen_tokens[-1])
        agent_id = create_agent(
            agents_api,
            user,
            name="oauth-user",
            mcp_servers=[{"server_id": created["id"], "requires_approval": False}],
        )
        body: Any = run(runs_api, user, agent_id, "Who\ncall whoami {}").get_json()
        assert body["status"] == "succeeded", body
        assert "token=at-" in body["output"] and server.oauth.refreshed == 2


def test_oauth_refusals(agents_api: ApiClient, user: TestUser) -> None:
    bearer = register(agents_api, user, "https://mcp.example.com/mcp", auth={"type": "bearer"})
    assert error_code(agents_api.get(f"/mcp-servers/{bearer['id']}/oauth/start", token=user.token), 409)
    assert error_code(
        agents_api.get("/mcp-servers/oauth/callback", query_string={"state": "x", "code": "y"}), 400
    )
    with mcp_server(tokens={"t"}, oauth=True) as server:
        created = register(agents_api, user, server.url, auth={"type": "oauth"})
        url = agents_api.get(f"/mcp-servers/{created['id']}/oauth/start", token=user.token).get_json()[
            "authorization_url"
        ]
        callback = browser_consents(url)
        denied = agents_api.get(
            "/mcp-servers/oauth/callback", query_string={"state": callback["state"], "error": "access_denied"}
        )
        assert error_code(denied, 400) == "oauth_denied"
        assert (
            agents_api.get(f"/mcp-servers/{created['id']}", token=user.token).get_json()["connected"] is False
        )
