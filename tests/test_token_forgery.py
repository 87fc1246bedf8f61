"""Token forgery on every function and every authenticated route (issue 10).

tests/test_auth_tokens.py proves each forgery is refused by ``/auth/me``; here every forgery
is sent to every route that needs a user, on every HTTP function (the routes come from the
route table, so new ones are covered automatically), together with the cases it leaves out:
other HMAC algorithms with the right key, a real refresh token used as an access token, a
correctly signed token whose role claim lies, malformed Authorization headers, and Firebase
emulator tokens on every function once ``ENVIRONMENT=cloud``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests.conftest import TEST_JWT_SECRET, ApiClient, TestUser
from tests.test_auth import assert_error, count_docs
from tests.test_auth_tokens import FORGERIES, FirebaseEmulator, _b64, _claims, firebase  # noqa: F401
from tools.functions import HTTP_FUNCTIONS, load_router


def _concrete(path: str) -> str:
    """A route path with placeholder ids (authentication happens before any lookup)."""
    import re

    return re.sub(r"\{[^}]+\}", "x" + uuid.uuid4().hex[:6], path)


def _authenticated_routes() -> list[tuple[str, str, str]]:
    """(function, method, concrete path) of every route that needs a user."""
    found: list[tuple[str, str, str]] = []
    for function in HTTP_FUNCTIONS:
        for route in load_router(function).routes:
            if route.auth in ("user", "optional"):
                found.append((function.name, route.method, route.path))
    return found


ROUTES = _authenticated_routes()
ROUTE_IDS = [f"{m} {p}" for _, m, p in ROUTES]


def _extra_forgeries(user: TestUser) -> dict[str, str]:
    hs512 = jwt.encode(_claims(user.id), TEST_JWT_SECRET, algorithm="HS512")
    hs384 = jwt.encode(_claims(user.id), TEST_JWT_SECRET, algorithm="HS384")
    # A token signed with our key but with a kid/jku pointing elsewhere must not matter ...
    # ... and one "signed" with an empty key must never verify.
    head = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(_claims(user.id)).encode())
    empty_key = head + "." + _b64(hmac.new(b"", head.encode(), hashlib.sha256).digest())
    long_ago = int(time.time()) - 30 * 24 * 3600
    return {
        "hs512_right_key": hs512,
        "hs384_right_key": hs384,
        "hs256_empty_key": empty_key,
        "issued_long_ago_and_expired": jwt.encode(
            _claims(user.id, iat=long_ago, nbf=long_ago, exp=long_ago + 600),
            TEST_JWT_SECRET,
            algorithm="HS256",
        ),
        "sub_not_a_string": jwt.encode(_claims(user.id, sub=12345), TEST_JWT_SECRET, algorithm="HS256"),
        "truncated_signature": jwt.encode(_claims(user.id), TEST_JWT_SECRET, algorithm="HS256")[:-4],
        "huge_token": "a" * 9000,
        "empty_segments": "..",
    }


@pytest.mark.parametrize(("function", "method", "path"), ROUTES, ids=ROUTE_IDS)
def test_every_forgery_is_401_on_every_authenticated_route(
    apps: dict[str, ApiClient], user: TestUser, function: str, method: str, path: str
) -> None:
    api = apps[function]
    concrete = _concrete(path)
    # Control: the genuine token gets past authentication on this very route.
    genuine = api.request(method, concrete, token=user.token, json={})
    assert genuine.status_code != 401, genuine.get_data(as_text=True)
    forgeries = {name: make(user.id) for name, make in FORGERIES.items()} | _extra_forgeries(user)
    accepted = []
    for name, token in forgeries.items():
        response = api.request(method, concrete, token=token, json={})
        if response.status_code != 401:
            accepted.append(f"{name}: {response.status_code}")
        else:
            # The OpenAI-compatible API answers in OpenAI's error shape.
            assert_error(response, 401, "invalid_api_key" if path.startswith("/v1/") else "unauthorized")
            assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert not accepted, f"{method} {path} accepted forged tokens: {accepted}"


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer", "Bearer a b c", "Bearer \u00e9\u00e9"],
)
def test_malformed_authorization_headers_are_401_everywhere(
    apps: dict[str, ApiClient], user: TestUser, header: str
) -> None:
    for function, method, path in ROUTES:
        response = apps[function].request(method, _concrete(path), headers={"Authorization": header}, json={})
        assert response.status_code == 401, (function, method, path, header, response.status_code)


def test_a_refresh_token_is_not_an_access_token_on_any_function(
    apps: dict[str, ApiClient], env: Callable[..., None]
) -> None:
    env(ARGON2_TIME_COST="1", ARGON2_MEMORY_COST_KIB="8192", ARGON2_PARALLELISM="1")
    auth_api = apps["auth"]
    name = f"r_{uuid.uuid4().hex[:10]}"
    password = "refresh-me-please"
    assert (
        auth_api.post(
            "/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
        ).status_code
        == 201
    )
    pair = auth_api.post("/auth/login", json={"username": name, "password": password}).get_json()
    for function, method, path in ROUTES:
        response = apps[function].request(method, _concrete(path), token=pair["refresh_token"], json={})
        assert response.status_code == 401, (function, method, path)
    # Control: the access token of the same login works.
    assert auth_api.get("/auth/me", token=pair["access_token"]).status_code == 200


def test_a_correctly_signed_role_claim_grants_nothing(apps: dict[str, ApiClient], user: TestUser) -> None:
    """Roles come from the user record, re-read on every request, not from the token."""
    from shared import db

    lying = jwt.encode(_claims(user.id, role="admin"), TEST_JWT_SECRET, algorithm="HS256")
    for function in HTTP_FUNCTIONS:
        for route in load_router(function).routes:
            if route.auth == "user" and route.roles and "user" not in route.roles:
                response = apps[function.name].request(
                    route.method, _concrete(route.path), token=lying, json={}
                )
                assert_error(response, 403, "forbidden")
    response = apps["auth"].patch(f"/auth/users/{user.id}", token=lying, json={"role": "admin"})
    assert_error(response, 403)
    stored = db.get(db.collection("users").document(user.id)).to_dict()
    assert stored is not None and stored["role"] == "user"


def test_firebase_emulator_tokens_are_refused_on_every_function_in_cloud_mode(
    apps: dict[str, ApiClient],
    firebase: FirebaseEmulator,  # noqa: F811
    env: Callable[..., None],
) -> None:
    _, token = firebase.sign_up()
    _, control = firebase.sign_up()
    # Control: in test mode an emulator token authenticates (and provisions its user).
    assert apps["auth"].get("/auth/me", token=control).status_code == 200
    users_before = count_docs("users")
    env(ENVIRONMENT="cloud")
    accepted: list[Any] = []
    for function, method, path in ROUTES:
        for candidate in (token, control):
            response = apps[function].request(method, _concrete(path), token=candidate, json={})
            if response.status_code != 401:
                accepted.append((function, method, path, response.status_code))
    assert not accepted, accepted
    assert count_docs("users") == users_before  # nothing provisioned from a refused token


def test_personal_access_token_forgeries_are_401_on_every_authenticated_route(
    apps: dict[str, ApiClient], make_user: Callable[..., TestUser]
) -> None:
    """Personal access tokens: a wrong checksum, a well-formed secret never issued, a revoked,
    an expired token, and a deactivated owner's token are 401 on every route (issue 18)."""
    import datetime as dt

    from shared import db
    from shared.auth import personal_tokens as pat

    owner, deactivated_owner = make_user(), make_user()
    all_scopes = ["agents:read", "agents:write", "runs", "marketplace:write", "webhooks", "schedules"]

    def issue(user: TestUser) -> str:
        _, secret = pat.create_token(
            user.id,
            "user",
            name="f",
            scopes=all_scopes,
            expires_in_days=30,
            agent_ids=None,  # type: ignore[arg-type]
        )
        return secret

    def ref(secret: str) -> Any:
        return db.collection(pat.PERSONAL_ACCESS_TOKENS).document(hashlib.sha256(secret.encode()).hexdigest())

    genuine = issue(owner)
    revoked = issue(owner)
    db.delete(ref(revoked))
    expired = issue(owner)
    db.update(ref(expired), {"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)})
    of_deactivated = issue(deactivated_owner)
    db.update(db.collection("users").document(deactivated_owner.id), {"is_active": False})
    body = genuine[len(pat.PREFIX) : -6]
    forgeries = {
        "bad_checksum": genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
        "never_issued": pat.new_secret(),
        "prefix_only": pat.PREFIX,
        "wrong_alphabet": pat.PREFIX + body[:-1] + "-" + genuine[-6:],
        "revoked": revoked,
        "expired": expired,
        "deactivated_owner": of_deactivated,
    }
    accepted: list[str] = []
    for function, method, path in ROUTES:
        for name, token in forgeries.items():
            response = apps[function].request(method, _concrete(path), token=token, json={})
            if response.status_code != 401:
                accepted.append(f"{method} {path} {name}: {response.status_code}")
            else:
                assert response.headers.get("WWW-Authenticate") == "Bearer"
    assert not accepted, accepted
    # Control: the genuine token authenticates.
    assert apps["auth"].get("/auth/me", token=genuine).status_code == 200
