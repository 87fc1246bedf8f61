"""Personal access tokens (issue 18): create/list/revoke, hashing at rest, scopes on every
route, the owner's role and deactivation, expiry, agent restriction, coarse last-used."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_runs import definition
from tools.functions import HTTP_FUNCTIONS, load_router

PAT = re.compile(r"^agpat_[0-9A-Za-z]{42}$")


def create_pat(
    auth_api: ApiClient, user: TestUser, scopes: list[str], **extra: Any
) -> tuple[dict[str, Any], str]:
    response = auth_api.post(
        "/auth/tokens",
        token=user.token,
        json={"name": f"t-{uuid.uuid4().hex[:6]}", "scopes": scopes, **extra},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    return body["token"], body["secret"]


def _error_code(response: Any) -> str:
    return response.get_json()["error"]["code"]


def test_create_list_revoke_and_the_secret_is_shown_once(auth_api: ApiClient, user: TestUser) -> None:
    from shared import db

    response = auth_api.post(
        "/auth/tokens", token=user.token, json={"name": "ci", "scopes": ["runs", "agents:read"]}
    )
    assert response.status_code == 201
    body = response.get_json()
    secret = body["secret"]
    assert PAT.match(secret)
    token = body["token"]
    assert response.headers["Location"] == f"/auth/tokens/{token['id']}"
    assert token["name"] == "ci"
    assert token["scopes"] == ["agents:read", "runs"]  # canonical order
    assert token["expires_at"] is None and token["last_used_at"] is None
    assert token["hint"].startswith("agpat_") and token["hint"].endswith(secret[-4:])
    # At rest: only the digest, never the secret.
    docs = list(db.collection("personal_access_tokens").stream())
    assert [d.id for d in docs] == [hashlib.sha256(secret.encode()).hexdigest()]
    assert secret not in json.dumps(docs[0].to_dict(), default=str)

    listed = auth_api.get("/auth/tokens", token=user.token).get_json()["items"]
    assert [t["id"] for t in listed] == [token["id"]]
    assert "secret" not in listed[0] and secret not in json.dumps(listed)

    me = auth_api.get("/auth/me", token=secret)
    assert me.status_code == 200 and me.get_json()["id"] == user.id

    assert auth_api.delete(f"/auth/tokens/{token['id']}", token=user.token).status_code == 204
    assert auth_api.get("/auth/me", token=secret).status_code == 401
    assert auth_api.delete(f"/auth/tokens/{token['id']}", token=user.token).status_code == 404
    assert auth_api.get("/auth/tokens", token=user.token).get_json()["items"] == []


def test_others_tokens_are_invisible_and_cannot_be_revoked(
    auth_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    token, secret = create_pat(auth_api, user, ["runs"])
    assert auth_api.get("/auth/tokens", token=other_user.token).get_json()["items"] == []
    response = auth_api.delete(f"/auth/tokens/{token['id']}", token=other_user.token)
    assert response.status_code == 404
    assert auth_api.get("/auth/me", token=secret).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["runs", "runs"]},
        {"name": "x", "scopes": ["everything"]},
        {"name": "", "scopes": ["runs"]},
        {"name": "   ", "scopes": ["runs"]},
        {"name": "x", "scopes": ["runs"], "expires_in_days": 0},
        {"name": "x", "scopes": ["runs"], "expires_in_days": 367},
        {"name": "x", "scopes": ["runs"], "agent_ids": []},
        {"name": "x", "scopes": ["runs"], "unknown": 1},
        {"scopes": ["runs"]},
    ],
)
def test_bad_token_requests_are_422_and_write_nothing(
    auth_api: ApiClient, user: TestUser, body: dict[str, Any]
) -> None:
    from shared import db

    response = auth_api.post("/auth/tokens", token=user.token, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert list(db.collection("personal_access_tokens").stream()) == []


def test_a_token_cannot_exceed_its_owners_role(
    auth_api: ApiClient, user: TestUser, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    from shared import db

    response = auth_api.post("/auth/tokens", token=user.token, json={"name": "x", "scopes": ["admin"]})
    assert response.status_code == 403 and _error_code(response) == "scope_exceeds_role"
    # An admin's admin token works while they are admin, and stops when they are demoted.
    target = make_user()
    _, secret = create_pat(auth_api, admin, ["admin"])
    assert (
        auth_api.patch(f"/auth/users/{target.id}", token=secret, json={"role": "moderator"}).status_code
        == 200
    )
    db.update(db.collection("users").document(admin.id), {"role": "user"})
    response = auth_api.patch(f"/auth/users/{target.id}", token=secret, json={"role": "user"})
    assert response.status_code == 403
    # A user's token with every user scope still cannot do admin things.
    _, all_user_scopes = create_pat(
        auth_api, user, ["agents:read", "agents:write", "runs", "marketplace:write", "webhooks", "schedules"]
    )
    response = auth_api.patch(f"/auth/users/{target.id}", token=all_user_scopes, json={"role": "admin"})
    assert response.status_code == 403 and _error_code(response) == "insufficient_scope"


def test_tokens_cannot_manage_tokens(auth_api: ApiClient, user: TestUser) -> None:
    _, secret = create_pat(auth_api, user, ["agents:read", "agents:write", "runs"])
    for method, path, body in [
        ("POST", "/auth/tokens", {"name": "x", "scopes": ["runs"]}),
        ("GET", "/auth/tokens", None),
        ("DELETE", f"/auth/tokens/{uuid.uuid4().hex}", None),
    ]:
        response = auth_api.request(method, path, token=secret, json=body)
        assert response.status_code == 403, (method, path)
        assert _error_code(response) == "interactive_login_required"


def test_deactivation_stops_tokens_at_once_and_reactivation_restores_them(
    auth_api: ApiClient, agents_api: ApiClient, user: TestUser, admin: TestUser
) -> None:
    _, secret = create_pat(auth_api, user, ["agents:read"])
    assert agents_api.get("/agents", token=secret).status_code == 200
    assert (
        auth_api.patch(f"/auth/users/{user.id}", token=admin.token, json={"is_active": False}).status_code
        == 200
    )
    response = agents_api.get("/agents", token=secret)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert (
        auth_api.patch(f"/auth/users/{user.id}", token=admin.token, json={"is_active": True}).status_code
        == 200
    )
    assert agents_api.get("/agents", token=secret).status_code == 200


def test_expired_tokens_are_401(auth_api: ApiClient, agents_api: ApiClient, user: TestUser) -> None:
    from shared import db

    token, secret = create_pat(auth_api, user, ["agents:read"], expires_in_days=1)
    expires = dt.datetime.fromisoformat(token["expires_at"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)
    assert agents_api.get("/agents", token=secret).status_code == 200
    ref = db.collection("personal_access_tokens").document(hashlib.sha256(secret.encode()).hexdigest())
    db.update(ref, {"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)})
    response = agents_api.get("/agents", token=secret)
    assert response.status_code == 401 and _error_code(response) == "token_expired"


def test_last_used_is_recorded_coarsely(
    auth_api: ApiClient, agents_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    token, secret = create_pat(auth_api, user, ["agents:read"])
    first = agents_api.get("/agents", token=secret)
    assert first.status_code == 200
    used = auth_api.get("/auth/tokens", token=user.token).get_json()["items"][0]["last_used_at"]
    assert used is not None
    # Within the granularity window, a use costs no write.
    again = agents_api.get("/agents", token=secret)
    assert again.headers["X-Firestore-Writes"] == "0"
    assert auth_api.get("/auth/tokens", token=user.token).get_json()["items"][0]["last_used_at"] == used
    env(PAT_LAST_USED_GRANULARITY_SECONDS="0")
    agents_api.get("/agents", token=secret)
    later = auth_api.get("/auth/tokens", token=user.token).get_json()["items"][0]["last_used_at"]
    assert later > used
    assert token["id"]


def test_agent_restricted_tokens(
    auth_api: ApiClient, agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    allowed = agents_api.post("/agents", token=user.token, json=definition("allowed")).get_json()["id"]
    other = agents_api.post("/agents", token=user.token, json=definition("other")).get_json()["id"]
    foreign = agents_api.post("/agents", token=other_user.token, json=definition("foreign")).get_json()["id"]
    response = auth_api.post(
        "/auth/tokens", token=user.token, json={"name": "x", "scopes": ["runs"], "agent_ids": [foreign]}
    )
    assert response.status_code == 422
    _, secret = create_pat(auth_api, user, ["runs", "agents:read"], agent_ids=[allowed])
    ok = runs_api.post("/runs", token=secret, json={"agent_id": allowed, "input": "hi"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    for path, body in [
        ("/runs", {"agent_id": other, "input": "hi"}),
        ("/runs", {"agent_id": other, "input": "hi", "mode": "async"}),
        ("/sessions", {"agent_id": other}),
        ("/batches", {"agent_id": other, "inputs": ["a"]}),
    ]:
        refused = runs_api.post(path, token=secret, json=body)
        assert refused.status_code == 403, (path, refused.get_data(as_text=True))
        assert _error_code(refused) == "agent_not_allowed"
    assert agents_api.get(f"/agents/{other}", token=secret).status_code == 403
    assert agents_api.get(f"/agents/{allowed}", token=secret).status_code == 200
    assert [a["id"] for a in agents_api.get("/agents", token=secret).get_json()["items"]] == [allowed]


def test_every_authenticated_route_declares_a_known_scope() -> None:
    from shared.auth.scopes import ROUTE_SCOPES

    missing = [
        f"{r.method} {r.path}"
        for f in HTTP_FUNCTIONS
        for r in load_router(f).routes
        if r.auth != "public" and r.scope not in ROUTE_SCOPES
    ]
    assert not missing, f"routes without a token scope: {missing}"


def test_openapi_declares_the_scope_as_a_security_requirement() -> None:
    from tools.functions import openapi_document

    doc: Any = openapi_document()
    assert doc["paths"]["/runs"]["post"]["security"] == [
        {"bearerAuth": []},
        {"personalAccessToken": ["runs"]},
    ]
    assert doc["paths"]["/agents/{agent_id}"]["put"]["security"][1] == {
        "personalAccessToken": ["agents:write"]
    }
    assert doc["paths"]["/auth/me"]["get"]["security"][1] == {"personalAccessToken": []}
    assert doc["paths"]["/auth/tokens"]["post"]["security"] == [{"bearerAuth": []}]
    assert "403" in doc["paths"]["/runs"]["post"]["responses"]
    assert "personalAccessToken" in doc["components"]["securitySchemes"]
