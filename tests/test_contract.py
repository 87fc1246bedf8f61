"""Contract details schemathesis found (issue 21 point 1), pinned where they are cheap to test:
405 + JSON + Allow for undeclared methods (functions and gateway), OPTIONS, an upload
without a body, the login form's own schema."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "PATCH"])
def test_undeclared_methods_are_405_json_with_allow(agents_api: ApiClient, method: str) -> None:
    response = agents_api.request(method, "/agents")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_options_lists_the_paths_methods_and_answers_cors(agents_api: ApiClient, env: Any) -> None:
    env(CORS_ALLOWED_ORIGINS="https://console.example")
    response = agents_api.request(
        "OPTIONS",
        "/agents/abc",
        headers={"Origin": "https://console.example", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 204
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, PUT"
    assert response.headers["Access-Control-Allow-Methods"] == "DELETE, GET, HEAD, OPTIONS, PUT"
    assert response.headers["Access-Control-Allow-Origin"] == "https://console.example"
    missing = agents_api.request("OPTIONS", "/agents/abc/nothing/here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "route_not_found"


def test_upload_needs_a_body_but_an_empty_file_is_fine(agents_api: ApiClient, user: TestUser) -> None:
    bare = agents_api.put("/workspace/files/notes.txt", token=user.token)
    assert bare.status_code == 400 and bare.get_json()["error"]["code"] == "missing_body"
    empty = agents_api.put(
        "/workspace/files/notes.txt", token=user.token, data=b"", headers={"Content-Type": "text/plain"}
    )
    assert empty.status_code == 201, empty.get_data(as_text=True)
    assert empty.get_json()["size"] == 0


def test_login_form_is_the_oauth2_password_grant(auth_api: ApiClient, env: Any) -> None:
    env(ARGON2_TIME_COST="1", ARGON2_MEMORY_COST_KIB="8192", ARGON2_PARALLELISM="1")
    registered = auth_api.post(
        "/auth/register", json={"username": "formuser", "email": "formuser@example.com", "password": "x" * 12}
    )
    assert registered.status_code == 201
    form = {"grant_type": "password", "username": "formuser", "password": "x" * 12, "scope": ""}
    assert auth_api.post("/auth/login", data=form).status_code == 200
    wrong_grant = auth_api.post("/auth/login", data={**form, "grant_type": "client_credentials"})
    assert wrong_grant.status_code == 422
    # JSON keeps its own schema (the grant fields are optional there).
    assert (
        auth_api.post("/auth/login", json={"username": "formuser", "password": "x" * 12}).status_code == 200
    )
    # The OAuth2 token endpoint takes only the form, and grant_type is required there (RFC 6749).
    token = auth_api.post("/auth/oauth/token", data=form)
    assert token.status_code == 200 and token.get_json()["token_type"] == "bearer"
    no_grant = auth_api.post("/auth/oauth/token", data={k: v for k, v in form.items() if k != "grant_type"})
    assert no_grant.status_code == 422
    as_json = auth_api.post("/auth/oauth/token", json=form)
    assert as_json.status_code == 415


def test_every_request_body_has_one_media_type() -> None:
    """Client generators cannot type an operation with two request media types
    (openapi-python-client 0.29 emits code that fails at import)."""
    from shared.web.openapi import build_openapi
    from tools.functions import routers

    document = build_openapi(routers())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert len(operation["requestBody"]["content"]) == 1, (method, path)


@pytest.fixture
def gateway() -> Iterator[int]:
    from tools.functions import HTTP_FUNCTIONS
    from tools.gateway import make_gateway
    from tools.localstack import free_port

    port = free_port()
    # Upstreams are never reached here: only the gateway's own answers are tested.
    upstreams = {f.name: "http://127.0.0.1:9" for f in HTTP_FUNCTIONS}
    server = make_gateway("127.0.0.1", port, upstreams, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def _call(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["/openapi.json", "/index.html"])
def test_gateway_answers_undeclared_methods_with_405(gateway: int, method: str, path: str) -> None:
    status, headers, body = _call(gateway, method, path)
    assert status == 405, body
    assert headers["content-type"] == "application/json"
    assert headers["allow"] == "GET, HEAD, OPTIONS"
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


def test_gateway_unknown_path_is_404_json_for_any_method(gateway: int) -> None:
    for method in ("GET", "TRACE", "FOO"):
        status, headers, body = _call(gateway, method, "/no/such/thing")
        assert status == 404 and headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"] == "route_not_found"
    status, headers, _ = _call(gateway, "OPTIONS", "/openapi.json")
    assert status == 204 and headers["allow"] == "GET, HEAD, OPTIONS"


def test_the_gateways_own_refusals_are_json_and_documented(gateway: int) -> None:
    """A request line over 64 KiB is refused before routing: 414 in our JSON error shape (it
    was an HTML page), and every operation documents the 414 (schemathesis, issue 21)."""
    from tools.functions import openapi_document

    status, headers, body = _call(gateway, "GET", "/marketplace/listings?q=" + "a" * 70_000)
    assert status == 414 and headers["content-type"] == "application/json", body
    assert json.loads(body)["error"]["code"] == "uri_too_long"
    document: Any = openapi_document()
    undocumented = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "414" not in operation["responses"]
    ]
    assert not undocumented


def test_a_literal_path_is_not_shadowed_by_a_parameter(agents_api: ApiClient) -> None:
    """``/agents/health`` only answers GET, although ``/agents/{agent_id}`` has PUT/DELETE."""
    response = agents_api.request("OPTIONS", "/agents/health")
    assert response.status_code == 204 and response.headers["Allow"] == "GET, HEAD, OPTIONS"
    put = agents_api.put("/agents/health", json={})
    assert put.status_code == 405 and put.headers["Allow"] == "GET, HEAD, OPTIONS"


def _unique_arrays() -> list[tuple[Any, str, dict[str, Any], Any]]:
    from shared.auth.token_schemas import TokenCreate
    from shared.mcp_servers.schemas import McpServerCreate, McpServerUpdate, McpToolsAccept

    server = {"name": "s", "url": "https://mcp.example.com/mcp"}
    token = {"name": "t", "scopes": ["runs"]}
    return [
        (McpServerCreate, "allowed_tools", server, "search"),
        (McpServerUpdate, "allowed_tools", {}, "search"),
        (McpToolsAccept, "tools", {}, "search"),
        (TokenCreate, "scopes", token, "runs"),
        (TokenCreate, "agent_ids", token, "a1"),
    ]


@pytest.mark.parametrize(("model", "field", "base", "item"), _unique_arrays())
def test_arrays_that_refuse_repeats_say_unique_items(
    model: Any, field: str, base: dict[str, Any], item: Any
) -> None:
    """schemathesis sent repeated tool names the server refuses (422) to a schema that allowed them."""
    from pydantic import ValidationError

    assert model.model_json_schema()["properties"][field].get("uniqueItems") is True
    model.model_validate({**base, field: [item]})
    with pytest.raises(ValidationError):
        model.model_validate({**base, field: [item, item]})


def test_a_single_valued_query_parameter_given_twice_is_422(marketplace_api: ApiClient) -> None:
    """schemathesis: `q` (a string, not an array) sent several times was answered from the first."""
    response = marketplace_api.get("/marketplace/listings?q=rust&q=go")
    assert (
        response.status_code == 422
        and response.get_json()["error"]["details"]["fields"][0]["loc"] == "query.q"
    )
    assert marketplace_api.get("/marketplace/listings?q=rust&tags=a&tags=b").status_code == 200


def test_a_free_form_float_keeps_its_form(runs_api: ApiClient, user: TestUser) -> None:
    """Types are checked strictly (a whole float counts as an integer), but values are kept as
    sent: 3.0 in a free-form field stays 3.0."""
    body = {"name": "d", "cases": [{"name": "c", "input": "x", "expected_output": 3.0, "metadata": {"n": 1}}]}
    created = runs_api.post("/eval-datasets", token=user.token, json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    stored = runs_api.get(f"/eval-datasets/{created.get_json()['id']}", token=user.token).get_json()
    assert isinstance(stored["cases"][0]["expected_output"], float)
