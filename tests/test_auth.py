"""/auth through HTTP against the emulators: accounts, login, throttling, refresh tokens,
roles and deactivation, and secrets kept out of logs and responses (issue 3)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser

PASSWORD = "correct horse battery staple"
USER_FIELDS = {"id", "username", "email", "role", "is_active", "created_at"}


@pytest.fixture(autouse=True)
def cheap_argon2(env: Callable[..., None]) -> None:
    """Real Argon2id, at a cost that keeps the suite quick on a shared machine."""
    env(ARGON2_TIME_COST="1", ARGON2_MEMORY_COST_KIB="8192", ARGON2_PARALLELISM="1")


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}, body
    if code:
        assert body["error"]["code"] == code, body
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


def doc(collection: str, doc_id: str) -> dict[str, Any] | None:
    from shared import db

    snap = db.get(db.collection(collection).document(doc_id))
    return snap.to_dict() if snap.exists else None


def count_docs(collection: str) -> int:
    from shared import db

    return db.count(db.collection(collection))


def register(
    api: ApiClient, username: str | None = None, email: str | None = None, password: str = PASSWORD, **kw: Any
) -> Any:
    name = username or f"u_{uuid.uuid4().hex[:10]}"
    return api.post(
        "/auth/register",
        json={"username": name, "email": email or f"{name}@example.com", "password": password},
        **kw,
    )


def registered(api: ApiClient, username: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    response = register(api, username, password=password)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def login(api: ApiClient, username: str, password: str = PASSWORD, ip: str = "203.0.113.7") -> Any:
    return api.post(
        "/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": ip},
    )


def logged_in(api: ApiClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(api, username, password)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# --- register -------------------------------------------------------------------------


def test_register_returns_the_user_and_stores_an_argon2id_hash(auth_api: ApiClient) -> None:
    response = register(auth_api, "Alice.B-1", "Alice@Example.COM")
    assert response.status_code == 201
    user = response.get_json()
    assert set(user) == USER_FIELDS
    assert user["username"] == "Alice.B-1"
    assert user["email"] == "Alice@example.com"  # the domain is case-insensitive; normalised
    assert user["role"] == "user" and user["is_active"] is True
    stored = doc("users", user["id"])
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(stored, default=str)
    assert doc("usernames", "alice.b-1") == {"user_id": user["id"]}
    assert doc("emails", "alice@example.com") == {"user_id": user["id"]}


def test_an_address_with_a_slash_registers_and_logs_in(auth_api: ApiClient) -> None:
    # '/' is valid in an address's local part but not in a document id (it was a 500): the
    # reservation is kept under a digest, and still makes the address unique.
    assert register(auth_api, "slasher", "a/b@example.com").status_code == 201
    assert login(auth_api, "a/b@example.com").status_code == 200
    assert_error(register(auth_api, "slasher2", "A/b@EXAMPLE.com"), 409, "email_taken")
    assert count_docs("users") == 1 and count_docs("emails") == 1


@pytest.mark.parametrize(
    ("second_username", "second_email", "code"),
    [
        ("ALICE", "other@example.com", "username_taken"),
        ("alice2", "ALICE@example.com", "email_taken"),
    ],
)
def test_duplicate_username_or_email_is_409_and_writes_nothing(
    auth_api: ApiClient, second_username: str, second_email: str, code: str
) -> None:
    assert register(auth_api, "alice", "alice@example.com").status_code == 201
    error = assert_error(register(auth_api, second_username, second_email), 409, code)
    assert error["details"]["field"] in ("username", "email")
    assert count_docs("users") == 1
    assert count_docs("usernames") == 1 and count_docs("emails") == 1


def test_concurrent_registrations_of_one_name_create_exactly_one_user(auth_api: ApiClient) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def attempt(index: int) -> None:
        client = auth_api.app.test_client()
        barrier.wait()
        response = client.post(
            "/auth/register",
            json={"username": "Racer", "email": f"racer{index}@example.com", "password": PASSWORD},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert count_docs("users") == 1 and count_docs("usernames") == 1 and count_docs("emails") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "x" * 51, "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "has space", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "bad/slash", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "ünïcode", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "valid_name", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "valid_name", "email": "a@b", "password": PASSWORD}, "email"),
        ({"username": "valid_name", "email": "a@@example.com", "password": PASSWORD}, "email"),
        ({"username": "valid_name", "email": "a b@example.com", "password": PASSWORD}, "email"),
        ({"username": "valid_name", "email": ".a@example.com", "password": PASSWORD}, "email"),
        ({"username": "valid_name", "email": "a@-example.com", "password": PASSWORD}, "email"),
        ({"username": "valid_name", "email": "a@example.com", "password": "short"}, "password"),
        ({"username": "valid_name", "email": "a@example.com", "password": " " * 12}, "password"),
        ({"username": "valid_name", "email": "a@example.com", "password": "x" * 1025}, "password"),
        ({"username": "valid_name", "email": "a@example.com"}, "password"),
        ({"username": "valid_name", "email": "a@example.com", "password": 12345678}, "password"),
        ({"username": "valid_name", "email": "a@example.com", "password": PASSWORD, "role": "admin"}, "role"),
    ],
)
def test_invalid_registration_is_422_naming_the_field(
    auth_api: ApiClient, body: dict[str, Any], field: str
) -> None:
    error = assert_error(auth_api.post("/auth/register", json=body), 422, "validation_error")
    assert field in [f["loc"] for f in error["details"]["fields"]]
    assert count_docs("users") == 0 and count_docs("usernames") == 0


def test_a_one_megabyte_password_is_422_and_a_larger_body_413(auth_api: ApiClient) -> None:
    body = {"username": "big_pw", "email": "big@example.com", "password": "p" * 1_000_000}
    error = assert_error(auth_api.post("/auth/register", json=body), 422, "validation_error")
    assert [f["loc"] for f in error["details"]["fields"]] == ["password"]
    assert "p" * 100 not in json.dumps(error)  # the input is never echoed
    body["password"] = "p" * 2_000_000
    assert_error(auth_api.post("/auth/register", json=body), 413, "payload_too_large")
    login_body = {"username": "big_pw", "password": "p" * 1_000_000}
    assert_error(auth_api.post("/auth/login", json=login_body), 422, "validation_error")
    assert count_docs("users") == 0


def test_malformed_json_is_400(auth_api: ApiClient) -> None:
    response = auth_api.post(
        "/auth/register", data='{"username": "x",', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")


# --- login ----------------------------------------------------------------------------


def test_login_returns_a_token_pair_that_authenticates(auth_api: ApiClient) -> None:
    user = registered(auth_api, "Bob_the_builder")
    pair = logged_in(auth_api, "bob_THE_builder")  # usernames are case-insensitive
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    me = auth_api.get("/auth/me", token=pair["access_token"])
    assert me.status_code == 200
    assert me.get_json() == user


def test_login_by_email_works_too(auth_api: ApiClient) -> None:
    user = registered(auth_api, "carol")
    pair = logged_in(auth_api, "CAROL@example.com")
    assert auth_api.get("/auth/me", token=pair["access_token"]).get_json()["id"] == user["id"]


def test_login_accepts_oauth2_password_form_fields(auth_api: ApiClient) -> None:
    registered(auth_api, "dave")
    response = auth_api.post(
        "/auth/login",
        data={"grant_type": "password", "username": "dave", "password": PASSWORD, "scope": ""},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["token_type"] == "bearer"
    bad_grant = auth_api.post(
        "/auth/login", data={"grant_type": "client_credentials", "username": "dave", "password": PASSWORD}
    )
    assert_error(bad_grant, 422, "validation_error")


def test_unknown_user_and_wrong_password_are_indistinguishable(
    auth_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.auth import passwords

    registered(auth_api, "erin")
    verifications: list[str] = []
    real_verify = passwords.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        verifications.append(password_hash[:9])
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting_verify)

    wrong_password = login(auth_api, "erin", "not the password", ip="198.51.100.1")
    after_wrong = list(verifications)
    verifications.clear()
    unknown_user = login(auth_api, "nobody_here", "not the password", ip="198.51.100.2")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.get_json() == unknown_user.get_json()
    assert wrong_password.get_json()["error"]["code"] == "invalid_credentials"
    assert wrong_password.headers.get("WWW-Authenticate") == unknown_user.headers.get("WWW-Authenticate")
    # Both paths pay for exactly one Argon2id verification (timing parity).
    assert after_wrong == verifications == ["$argon2id"]


def test_users_without_a_password_cannot_log_in(
    auth_api: ApiClient, make_user: Callable[..., TestUser]
) -> None:
    passwordless = make_user()  # like a Firebase-provisioned user
    error = assert_error(login(auth_api, passwordless.username, PASSWORD), 401, "invalid_credentials")
    assert error["message"] == "incorrect username or password"


def test_login_rehashes_when_argon2_parameters_change(auth_api: ApiClient, env: Callable[..., None]) -> None:
    user = registered(auth_api, "frank")
    old_hash = doc("users", user["id"])["password_hash"]  # type: ignore[index]
    assert "m=8192,t=1,p=1" in old_hash
    env(ARGON2_TIME_COST="2", ARGON2_MEMORY_COST_KIB="9216", ARGON2_PARALLELISM="1")
    logged_in(auth_api, "frank")
    new_hash = doc("users", user["id"])["password_hash"]  # type: ignore[index]
    assert new_hash != old_hash and "m=9216,t=2,p=1" in new_hash
    logged_in(auth_api, "frank")  # the upgraded hash verifies
    assert doc("users", user["id"])["password_hash"] == new_hash  # type: ignore[index]
    assert_error(login(auth_api, "frank", "wrong password"), 401)


# --- refresh and logout ---------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_family(auth_api: ApiClient) -> None:
    registered(auth_api, "kim")
    first = logged_in(auth_api, "kim")
    stored = doc("refresh_tokens", hashlib.sha256(first["refresh_token"].encode()).hexdigest())
    assert stored is not None and stored["status"] == "active"
    assert first["refresh_token"] not in json.dumps(stored, default=str)

    second = auth_api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.get_json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["token_type"] == "bearer"
    assert auth_api.get("/auth/me", token=pair["access_token"]).status_code == 200
    third = auth_api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).get_json()

    # Replaying the first (rotated) token is theft: 401, and the whole family dies.
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}), 401)
    # A separate login (another family) is unaffected.
    other = logged_in(auth_api, "kim")
    assert auth_api.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43, "a"])
def test_unknown_refresh_tokens_are_401(auth_api: ApiClient, token: str) -> None:
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": token}), 401)


def test_refresh_body_is_validated(auth_api: ApiClient) -> None:
    assert_error(auth_api.post("/auth/refresh", json={}), 422)
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": ""}), 422)
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": "x" * 9000}), 422)


def test_access_and_refresh_tokens_are_not_interchangeable(auth_api: ApiClient) -> None:
    registered(auth_api, "leo")
    pair = logged_in(auth_api, "leo")
    assert_error(auth_api.get("/auth/me", token=pair["refresh_token"]), 401)
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": pair["access_token"]}), 401)


def test_logout_revokes_the_session(auth_api: ApiClient) -> None:
    registered(auth_api, "mia")
    pair = logged_in(auth_api, "mia")
    rotated = auth_api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).get_json()
    response = auth_api.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)
    # Logging out twice, or with an unknown token, is still 204 (nothing to reveal).
    assert auth_api.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]}).status_code == 204
    assert auth_api.post("/auth/logout", json={"refresh_token": "unknown-token"}).status_code == 204
    assert_error(auth_api.post("/auth/logout", json={}), 422)


# --- me, roles, deactivation ----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer garbage"},
    ],
)
def test_me_needs_valid_credentials(auth_api: ApiClient, headers: dict[str, str]) -> None:
    response = auth_api.get("/auth/me", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_only_admins_may_update_users(
    auth_api: ApiClient, user: TestUser, moderator: TestUser, admin: TestUser
) -> None:
    path = f"/auth/users/{user.id}"
    assert_error(auth_api.patch(path, json={"role": "moderator"}), 401)
    assert_error(auth_api.patch(path, json={"role": "admin"}, token=user.token), 403, "forbidden")
    assert_error(auth_api.patch(path, json={"role": "moderator"}, token=moderator.token), 403, "forbidden")
    response = auth_api.patch(path, json={"role": "moderator"}, token=admin.token)
    assert response.status_code == 200
    assert response.get_json()["role"] == "moderator" and set(response.get_json()) == USER_FIELDS
    # The role applies at once, although the user's token was minted as "user".
    assert auth_api.get("/auth/me", token=user.token).get_json()["role"] == "moderator"


@pytest.mark.parametrize(
    "body",
    [{}, {"role": "superuser"}, {"role": None}, {"is_active": None}, {"is_active": "maybe"}, {"name": "x"}],
)
def test_user_update_body_is_validated(
    auth_api: ApiClient, user: TestUser, admin: TestUser, body: Any
) -> None:
    assert_error(auth_api.patch(f"/auth/users/{user.id}", json=body, token=admin.token), 422)
    assert doc("users", user.id)["role"] == "user"  # type: ignore[index]


def test_updating_an_unknown_user_is_404(auth_api: ApiClient, admin: TestUser) -> None:
    assert_error(auth_api.patch("/auth/users/nope", json={"role": "user"}, token=admin.token), 404)


def test_admins_cannot_lock_themselves_out(auth_api: ApiClient, admin: TestUser) -> None:
    for body in ({"is_active": False}, {"role": "user"}):
        assert_error(auth_api.patch(f"/auth/users/{admin.id}", json=body, token=admin.token), 409)
    assert (
        auth_api.patch(f"/auth/users/{admin.id}", json={"role": "admin"}, token=admin.token).status_code
        == 200
    )


def test_deactivation_stops_tokens_at_once_and_reactivation_needs_a_new_login(
    auth_api: ApiClient, admin: TestUser
) -> None:
    user = registered(auth_api, "nina")
    pair = logged_in(auth_api, "nina")
    spare = logged_in(auth_api, "nina")
    assert auth_api.get("/auth/me", token=pair["access_token"]).status_code == 200

    response = auth_api.patch(f"/auth/users/{user['id']}", json={"is_active": False}, token=admin.token)
    assert response.status_code == 200 and response.get_json()["is_active"] is False

    assert_error(auth_api.get("/auth/me", token=pair["access_token"]), 401)
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401)
    assert_error(login(auth_api, "nina"), 401, "invalid_credentials")

    auth_api.patch(f"/auth/users/{user['id']}", json={"is_active": True}, token=admin.token)
    # Sessions from before the deactivation stay revoked; a fresh login works.
    assert_error(auth_api.post("/auth/refresh", json={"refresh_token": spare["refresh_token"]}), 401)
    fresh = logged_in(auth_api, "nina")
    assert auth_api.get("/auth/me", token=fresh["access_token"]).status_code == 200


# --- secrets never leak ---------------------------------------------------------------


def test_no_password_hash_or_token_appears_in_logs_or_responses(
    auth_api: ApiClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.logs import JsonFormatter

    caplog.set_level(logging.DEBUG)
    secret = "s3cret-Passw0rd-that-must-not-leak"
    bodies: list[str] = []

    def call(response: Any) -> Any:
        bodies.append(response.get_data(as_text=True))
        bodies.append(json.dumps(dict(response.headers)))
        return response

    user = call(register(auth_api, "oscar", password=secret)).get_json()
    call(login(auth_api, "oscar", secret + "-wrong"))
    pair = call(login(auth_api, "oscar", secret)).get_json()
    call(auth_api.get("/auth/me", token=pair["access_token"]))
    rotated = call(auth_api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})).get_json()
    call(auth_api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}))  # reuse
    call(auth_api.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]}))
    call(
        auth_api.post(
            "/auth/register", json={"username": "oscar2", "email": "o2@example.com", "password": "short"}
        )
    )

    password_hash = doc("users", user["id"])["password_hash"]  # type: ignore[index]
    secrets_ = [
        secret,
        password_hash,
        password_hash.split("$")[-1],  # the digest part alone
        pair["access_token"],
        pair["access_token"].split(".")[2],  # the signature alone
        pair["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        hashlib.sha256(pair["refresh_token"].encode()).hexdigest(),
    ]
    formatter = JsonFormatter("test")
    logged = "\n".join(formatter.format(record) + repr(record.__dict__) for record in caplog.records)
    captured = capsys.readouterr()
    logged += captured.out + captured.err
    assert caplog.records, "expected the requests to be logged"
    assert any(getattr(r, "user_id", None) == user["id"] for r in caplog.records)
    for value in secrets_:
        assert value not in logged, [
            (r.name, r.getMessage()[:200])
            for r in caplog.records
            if value in formatter.format(r) + repr(r.__dict__)
        ]
    # Responses carry only the tokens they are meant to hand out.
    responses = "\n".join(bodies)
    for value in (secret, password_hash, password_hash.split("$")[-1], "password_hash"):
        assert value not in responses
