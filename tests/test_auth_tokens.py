"""Bearer tokens against the emulators: forged access tokens, Firebase ID tokens (accepted,
provisioned, revoked, disabled, refused outside emulator mode) and tokens on the other
functions (issue 3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests

from tests.conftest import TEST_JWT_SECRET, ApiClient, Emulators, TestUser
from tests.test_auth import assert_error, count_docs, doc, logged_in, registered
from tools.functions import HTTP_FUNCTIONS, load_router


@pytest.fixture(autouse=True)
def cheap_argon2(env: Callable[..., None]) -> None:
    env(ARGON2_TIME_COST="1", ARGON2_MEMORY_COST_KIB="8192", ARGON2_PARALLELISM="1")


# --- forged access tokens -------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(signature)


def _claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "agents-service",
        "aud": "agents-service-api",
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "role": "admin",
        "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(claims: dict[str, Any], key: str | bytes = TEST_JWT_SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def _rsa_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _hs256_with_public_key_as_secret(claims: dict[str, Any]) -> str:
    """The classic RS/HS confusion: an HMAC 'signed' with a public key's PEM."""
    from cryptography.hazmat.primitives import serialization

    pem = (
        _rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(hmac.new(pem, head.encode(), hashlib.sha256).digest())


def _tampered(user_id: str) -> str:
    """A genuine token whose payload was edited (role escalated) after signing."""
    from shared.auth.tokens import issue_access_token

    token, _ = issue_access_token(user_id, "user")
    header, _payload, signature = token.split(".")
    payload = _b64(json.dumps(_claims(user_id, role="admin")).encode())
    return f"{header}.{payload}.{signature}"


FORGERIES: dict[str, Callable[[str], str]] = {
    "expired": lambda uid: _hs256(_claims(uid, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "not_yet_valid": lambda uid: _hs256(_claims(uid, nbf=int(time.time()) + 3600)),
    "alg_none": lambda uid: _unsigned({"alg": "none", "typ": "JWT"}, _claims(uid)),
    "alg_none_uppercase": lambda uid: _unsigned({"alg": "NONE", "typ": "JWT"}, _claims(uid)),
    "hs256_without_signature": lambda uid: _unsigned({"alg": "HS256", "typ": "JWT"}, _claims(uid)),
    "rs256_own_key": lambda uid: jwt.encode(_claims(uid), _rsa_key(), algorithm="RS256"),
    "hs256_public_key_as_secret": lambda uid: _hs256_with_public_key_as_secret(_claims(uid)),
    "wrong_key": lambda uid: _hs256(_claims(uid), "another-secret-" + "y" * 40),
    "wrong_audience": lambda uid: _hs256(_claims(uid, aud="someone-else")),
    "wrong_issuer": lambda uid: _hs256(_claims(uid, iss="https://evil.example")),
    "missing_jti": lambda uid: _hs256(_claims(uid, jti=None)),
    "missing_exp": lambda uid: _hs256(_claims(uid, exp=None)),
    "refresh_type": lambda uid: _hs256(_claims(uid, typ="refresh")),
    "unknown_subject": lambda uid: _hs256(_claims(uuid.uuid4().hex)),
    "tampered_claims": _tampered,
    "not_a_jwt": lambda uid: "definitely.not.a-jwt",
}


def test_a_genuine_token_is_accepted(auth_api: ApiClient, user: TestUser) -> None:
    """The control for the forgeries below: a well-formed token with the real key works."""
    assert auth_api.get("/auth/me", token=_hs256(_claims(user.id))).status_code == 200


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_tokens_are_401(auth_api: ApiClient, user: TestUser, admin: TestUser, forgery: str) -> None:
    token = FORGERIES[forgery](user.id)
    assert_error(auth_api.get("/auth/me", token=token), 401, "unauthorized")
    # Nor can a forged "admin" token use an admin-only route.
    assert_error(auth_api.patch(f"/auth/users/{admin.id}", json={"is_active": False}, token=token), 401)
    assert doc("users", admin.id)["is_active"] is True  # type: ignore[index]


# --- tokens on the other functions ----------------------------------------------------


def _user_routes() -> list[tuple[str, str]]:
    """(function, path) of a parameterless GET route needing a user, per other function."""
    found: list[tuple[str, str]] = []
    for function in HTTP_FUNCTIONS:
        if function.name == "auth":
            continue
        routes = [
            r
            for r in load_router(function).routes
            if r.auth == "user" and r.method == "GET" and not r.path_params
        ]
        if routes:
            found.append((function.name, routes[0].path))
    return found


@pytest.mark.parametrize(("function", "path"), _user_routes())
def test_login_tokens_work_on_other_functions_until_deactivation(
    apps: dict[str, ApiClient], admin: TestUser, function: str, path: str
) -> None:
    auth_api, other = apps["auth"], apps[function]
    user = registered(auth_api, "traveller")
    pair = logged_in(auth_api, "traveller")
    assert_error(other.get(path), 401)
    assert_error(other.get(path, token=FORGERIES["wrong_key"](user["id"])), 401)
    response = other.get(path, token=pair["access_token"])
    assert response.status_code not in (401, 403) and response.status_code < 500, response.get_data(
        as_text=True
    )
    auth_api.patch(f"/auth/users/{user['id']}", json={"is_active": False}, token=admin.token)
    assert_error(other.get(path, token=pair["access_token"]), 401)


# --- Firebase ID tokens -------------------------------------------------------------------


@dataclass
class FirebaseEmulator:
    host: str
    project: str
    created: list[str] = field(default_factory=list[str])

    def _url(self, method: str) -> str:
        return f"http://{self.host}/identitytoolkit.googleapis.com/v1/accounts:{method}?key=test-api-key"

    def sign_up(self, email: str | None = None, password: str = "firebase-pass-1") -> tuple[str, str]:
        """Create an account and return (uid, ID token)."""
        address = email or f"fb{uuid.uuid4().hex[:10]}@example.com"
        body = requests.post(
            self._url("signUp"),
            json={"email": address, "password": password, "returnSecureToken": True},
            timeout=10,
        ).json()
        self.created.append(body["localId"])
        return body["localId"], body["idToken"]

    def sign_in_custom(self, uid: str) -> str:
        """An ID token for ``uid`` through a custom token (no email on the account)."""
        from firebase_admin import auth

        custom = auth.create_custom_token(uid, app=self.admin_app()).decode()
        body = requests.post(
            self._url("signInWithCustomToken"), json={"token": custom, "returnSecureToken": True}, timeout=10
        ).json()
        self.created.append(uid)
        return body["idToken"]

    def admin_app(self) -> Any:
        import firebase_admin

        name = f"tests-admin:{self.project}:{self.host}"
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            return firebase_admin.initialize_app(options={"projectId": self.project}, name=name)


@pytest.fixture
def firebase(emulators: Emulators, env: Callable[..., None]) -> Iterator[FirebaseEmulator]:
    """The Auth emulator, with FIREBASE_PROJECT set to the project its sign-ins use."""
    if not emulators.auth:
        pytest.skip("the Firebase Auth emulator is not running")
    emulator = FirebaseEmulator(emulators.auth, "")
    # Client sign-ins go to the emulator's default project; learn it from a token.
    _uid, token = emulator.sign_up()
    emulator.project = jwt.decode(token, options={"verify_signature": False})["aud"]
    env(FIREBASE_PROJECT=emulator.project)
    yield emulator
    from firebase_admin import auth

    for created in emulator.created:
        try:
            auth.delete_user(created, app=emulator.admin_app())
        except auth.UserNotFoundError:
            pass


def test_firebase_token_provisions_a_linked_user_once(
    auth_api: ApiClient, firebase: FirebaseEmulator
) -> None:
    email = f"ada.lovelace+{uuid.uuid4().hex[:6]}@example.com"
    uid, token = firebase.sign_up(email)
    first = auth_api.get("/auth/me", token=token)
    assert first.status_code == 200, first.get_data(as_text=True)
    user = first.get_json()
    assert user["email"] == email and user["role"] == "user" and user["is_active"] is True
    assert user["username"].startswith("ada.lovelace")
    assert doc("firebase_uids", uid) == {"user_id": user["id"]}
    stored = doc("users", user["id"])
    assert stored is not None and stored["firebase_uid"] == uid and stored["password_hash"] is None
    # Later calls use the same user.
    assert auth_api.get("/auth/me", token=token).get_json() == user
    assert count_docs("users") == 1


def test_firebase_username_is_made_unique(auth_api: ApiClient, firebase: FirebaseEmulator) -> None:
    local = f"taken{uuid.uuid4().hex[:6]}"
    registered(auth_api, local)
    _, token = firebase.sign_up(f"{local}@other.example.com")
    user = auth_api.get("/auth/me", token=token).get_json()
    assert user["username"] != local and user["username"].startswith(local + "-")


def test_firebase_email_of_a_password_account_is_not_linked(
    auth_api: ApiClient, firebase: FirebaseEmulator
) -> None:
    existing = registered(auth_api, f"owner{uuid.uuid4().hex[:6]}")
    _, token = firebase.sign_up(existing["email"])
    assert_error(auth_api.get("/auth/me", token=token), 409, "email_taken")
    assert count_docs("users") == 1 and count_docs("firebase_uids") == 0


def test_firebase_account_without_email_is_refused(auth_api: ApiClient, firebase: FirebaseEmulator) -> None:
    token = firebase.sign_in_custom(f"noemail{uuid.uuid4().hex[:8]}")
    assert_error(auth_api.get("/auth/me", token=token), 403, "email_required")
    assert count_docs("users") == 0


def test_revoked_firebase_tokens_are_401(auth_api: ApiClient, firebase: FirebaseEmulator) -> None:
    from firebase_admin import auth

    email = f"rev{uuid.uuid4().hex[:8]}@example.com"
    uid, token = firebase.sign_up(email, "firebase-pass-1")
    assert auth_api.get("/auth/me", token=token).status_code == 200
    time.sleep(1.1)  # revocation has one-second resolution: revoke strictly after issue
    auth.revoke_refresh_tokens(uid, app=firebase.admin_app())
    assert_error(auth_api.get("/auth/me", token=token), 401)
    fresh = requests.post(
        firebase._url("signInWithPassword"),
        json={"email": email, "password": "firebase-pass-1", "returnSecureToken": True},
        timeout=10,
    ).json()["idToken"]
    assert auth_api.get("/auth/me", token=fresh).status_code == 200


def test_disabled_firebase_accounts_are_401(auth_api: ApiClient, firebase: FirebaseEmulator) -> None:
    from firebase_admin import auth

    uid, token = firebase.sign_up()
    assert auth_api.get("/auth/me", token=token).status_code == 200
    auth.update_user(uid, disabled=True, app=firebase.admin_app())
    assert_error(auth_api.get("/auth/me", token=token), 401)


def test_deactivated_firebase_users_are_401(
    auth_api: ApiClient, firebase: FirebaseEmulator, admin: TestUser
) -> None:
    _, token = firebase.sign_up()
    user = auth_api.get("/auth/me", token=token).get_json()
    auth_api.patch(f"/auth/users/{user['id']}", json={"is_active": False}, token=admin.token)
    assert_error(auth_api.get("/auth/me", token=token), 401)


def test_firebase_roles_come_from_the_local_user(
    auth_api: ApiClient, firebase: FirebaseEmulator, admin: TestUser, user: TestUser
) -> None:
    _, token = firebase.sign_up()
    assert_error(auth_api.patch(f"/auth/users/{user.id}", json={"role": "moderator"}, token=token), 403)
    me = auth_api.get("/auth/me", token=token).get_json()
    auth_api.patch(f"/auth/users/{me['id']}", json={"role": "admin"}, token=admin.token)
    response = auth_api.patch(f"/auth/users/{user.id}", json={"role": "moderator"}, token=token)
    assert response.status_code == 200 and response.get_json()["role"] == "moderator"


def test_emulator_tokens_are_refused_outside_emulator_mode(
    auth_api: ApiClient, firebase: FirebaseEmulator, env: Callable[..., None]
) -> None:
    _, accepted = firebase.sign_up()
    assert auth_api.get("/auth/me", token=accepted).status_code == 200  # control: test mode
    _, token = firebase.sign_up()
    # Same process environment (FIREBASE_AUTH_EMULATOR_HOST still set), but deployed.
    env(ENVIRONMENT="cloud")
    assert_error(auth_api.get("/auth/me", token=token), 401)
    assert_error(auth_api.get("/auth/me", token=accepted), 401)
    # An unsigned token with the right Firebase claims is refused too.
    claims = jwt.decode(token, options={"verify_signature": False})
    assert_error(auth_api.get("/auth/me", token=_unsigned({"alg": "none", "typ": "JWT"}, claims)), 401)
    assert count_docs("users") == 1  # only the control user was provisioned


def test_concurrent_first_calls_provision_one_user(auth_api: ApiClient, firebase: FirebaseEmulator) -> None:
    uid, token = firebase.sign_up()
    results: list[tuple[int, str | None]] = []
    barrier = threading.Barrier(3)

    def call() -> None:
        client = auth_api.app.test_client()
        barrier.wait()
        response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        results.append((response.status_code, (response.get_json() or {}).get("id")))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200, 200, 200]
    assert len({user_id for _, user_id in results}) == 1
    assert count_docs("users") == 1 and doc("firebase_uids", uid) is not None
