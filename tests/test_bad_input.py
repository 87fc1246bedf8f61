"""Bad input on every JSON endpoint (issue 10): malformed JSON, wrong types, unicode edge
cases, oversized bodies and fields, deep nesting, duplicate keys, wrong content types.

Every such request gets a 4xx with the error body, never a 5xx, and writes nothing: all
documents in every collection (subcollections included) are counted before and after.
Valid request bodies come from the authorization matrix's table (``CASES``), so every
route with a JSON body is covered, and a new one fails until it has an entry there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_authz_matrix import CALLERS, CASES, ROUTES, Principals, RouteRef, World, expected_status
from tools.functions import HTTP_FUNCTIONS, load_router
from tools.localstack import Topology


def document_counts() -> dict[str, int]:
    """Documents per collection path (``runs``, ``runs/*/events`` ...), over the whole database.

    One keys-only recursive query per root collection: walking document by document (a get
    and a list of subcollections each) made this test the slowest of the suite.
    """
    from shared import db

    counts: dict[str, int] = {}
    for collection in db.client().collections():
        for snapshot in collection.recursive().select([]).stream():
            parts = snapshot.reference.path.split("/")
            name = "/*/".join(parts[0::2])
            counts[name] = counts.get(name, 0) + 1
    return counts


def _json_routes() -> list[RouteRef]:
    json_bodies = {
        (f.name, r.method, r.path)
        for f in HTTP_FUNCTIONS
        for r in load_router(f).routes
        if r.body is not None and r.body_kind == "json" and not r.form_only
    }
    return [r for r in ROUTES if (r.function, r.method, r.path) in json_bodies]


JSON_ROUTES = _json_routes()


# A login with odd but well-formed credentials is a failed login (401), and failed logins
# are counted for throttling: that write is the point, not a leak.
ALLOWED_WRITES: dict[tuple[str, int], tuple[str, ...]] = {("POST /auth/login", 401): ("login_throttle",)}


@dataclass(frozen=True)
class Attack:
    raw: bytes
    content_type: str = "application/json"
    # Some inputs are valid for free-text fields (e.g. an RTL override in a prompt): then a
    # 2xx is fine, but never a 5xx, and a refusal must write nothing.
    may_succeed: bool = False
    statuses: tuple[int, ...] = (400, 413, 415, 422)


def _encode(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \ud800 escapes (they cannot be UTF-8 encoded).
    return json.dumps(value, ensure_ascii=True).encode()


def _string_fields(body: dict[str, Any]) -> list[str]:
    return [k for k, v in body.items() if isinstance(v, str)]


def attacks(valid: dict[str, Any], limit: int) -> dict[str, Attack]:
    """Hostile variants of one valid body."""
    found: dict[str, Attack] = {
        "truncated_json": Attack(_encode(valid)[:-1]),
        "not_json": Attack(b"agent_id=1&input=2"),
        "empty_body": Attack(b""),
        "json_null": Attack(b"null"),
        "json_array": Attack(b"[]"),
        "json_string": Attack(b'"hello"'),
        "json_number": Attack(b"42"),
        "invalid_utf8": Attack(b'{"name": "\xff\xfe"}'),
        "utf16_bom": Attack(json.dumps(valid).encode("utf-16")),
        "nan_literal": Attack(b'{"x": NaN}', statuses=(400, 422)),
        "deeply_nested": Attack(b'{"metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        "nested_objects": Attack(b'{"a":' * 200 + b"1" + b"}" * 200),
        "oversized_body": Attack(_encode({**valid, "padding": "x" * (limit + 10)}), statuses=(413,)),
        "text_plain": Attack(_encode(valid), content_type="text/plain", statuses=(415,)),
        "no_content_type": Attack(_encode(valid), content_type="", statuses=(415,)),
        "unknown_field": Attack(_encode({**valid, "is_admin": True}), statuses=(422,)),
    }
    first = next(iter(valid), None)
    if first is not None:
        found["duplicate_key"] = Attack(
            b"{" + json.dumps(first).encode() + b": 1, " + _encode(valid)[1:], statuses=(400,)
        )
    for key in valid:
        found[f"wrong_type:{key}"] = Attack(_encode({**valid, key: {"$gt": ""}}), statuses=(422,))
        found[f"null:{key}"] = Attack(_encode({**valid, key: None}), may_succeed=True)
    for key in _string_fields(valid):
        found[f"lone_surrogate:{key}"] = Attack(_encode({**valid, key: "a\ud800b"}), statuses=(400, 422))
        found[f"nul:{key}"] = Attack(_encode({**valid, key: "a\x00b"}), may_succeed=True)
        found[f"rtl_override:{key}"] = Attack(_encode({**valid, key: "abc\u202egpj.exe"}), may_succeed=True)
        found[f"long_string:{key}"] = Attack(_encode({**valid, key: "é" * 300_000}), may_succeed=True)
        found[f"number_instead_of_string:{key}"] = Attack(_encode({**valid, key: 12345}), statuses=(422,))
    return found


@pytest.fixture
def principals(make_user: Callable[..., TestUser]) -> Principals:
    return Principals(make_user(), make_user(), make_user("moderator"), make_user("admin"), make_user())


@pytest.fixture(autouse=True)
def _settings(env: Callable[..., None], pubsub_topology: Topology) -> None:
    env(
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_COST_KIB="8192",
        ARGON2_PARALLELISM="1",
        RUN_RATE_LIMIT_PER_MINUTE="0",
    )


def test_every_json_route_has_a_valid_body() -> None:
    missing = [r.key for r in JSON_ROUTES if r.key not in CASES or CASES[r.key].body is None]
    assert not missing, f"JSON routes without a valid body in test_authz_matrix.CASES: {missing}"


@pytest.mark.parametrize("route", JSON_ROUTES, ids=[r.key for r in JSON_ROUTES])
def test_bad_input_is_4xx_and_writes_nothing(
    apps: dict[str, ApiClient], principals: Principals, route: RouteRef
) -> None:
    from shared.settings import get_settings

    case = CASES[route.key]
    assert case.body is not None
    world = World(apps, principals)
    params = case.params(world)
    path = route.path
    for name in route.path_params:
        path = path.replace("{" + name + "}", params[name])
    # The first caller the matrix expects to succeed, so only the input is wrong; where nobody
    # succeeds with a valid body (deciding on a finished run is 409), the owner: the body is
    # validated before the run's state is looked at.
    caller = next((c for c in CALLERS if 200 <= expected_status(route, case, c) < 300), "owner")
    if case.prepare is not None:
        case.prepare(world, caller)
    valid = case.body(world, caller)
    token = None if route.auth == "public" else principals.token(caller)
    problems: list[str] = []
    before = document_counts()
    for name, attack in attacks(valid, get_settings().max_body_bytes).items():
        headers = {"Content-Type": attack.content_type} if attack.content_type else {}
        response = apps[route.function].request(
            route.method, path, token=token, data=attack.raw, headers=headers
        )
        status = response.status_code
        text = response.get_data(as_text=True)
        if status >= 500 or "Traceback" in text:
            problems.append(f"{name}: {status} {text[:160]}")
            before = document_counts()
            continue
        if 200 <= status < 300:
            if not attack.may_succeed:
                problems.append(f"{name}: accepted ({status})")
            before = document_counts()  # an accepted odd value may write: that is not a leak
            continue
        # OpenAI's API (and so /v1) reports validation failures as 400, never 422.
        expected = (*attack.statuses, 400) if route.path.startswith("/v1/") else attack.statuses
        if status not in expected and not attack.may_succeed:
            problems.append(f"{name}: expected one of {expected}, got {status} {text[:160]}")
        body = response.get_json(silent=True)
        if not (isinstance(body, dict) and set(body) == {"error"} and body["error"].get("code")):
            problems.append(f"{name}: error body {text[:160]}")
        # The count after one attack is the count before the next (refusals write nothing).
        after = document_counts()
        allowed = ALLOWED_WRITES.get((route.key, status), ())
        changed = {
            k: (before.get(k, 0), after.get(k, 0))
            for k in set(before) | set(after)
            if k not in allowed and before.get(k, 0) != after.get(k, 0)
        }
        if changed:
            problems.append(f"{name}: wrote documents {changed}")
        before = after
    assert not problems, f"{route.key}:\n" + "\n".join(problems)


@pytest.mark.parametrize("route", ROUTES, ids=[r.key for r in ROUTES])
def test_hostile_paths_and_queries_never_5xx(
    apps: dict[str, ApiClient], principals: Principals, route: RouteRef
) -> None:
    """Path parameters and query strings with the same hostile values."""
    values = ["..", "%2e%2e%2f", "a" * 5000, "%00", "%ED%A0%80", "\u202e", "%F0%9F%92%A9", "' OR 1=1 --"]
    token = None if route.auth == "public" else principals.owner.token
    problems: list[str] = []
    before = document_counts()
    for value in values:
        path = route.path
        for name in route.path_params:
            path = path.replace("{" + name + ":path}", value).replace("{" + name + "}", value)
        queries = ["", f"?limit={value}", f"?cursor={value}", f"?q={value}&tags={value}&status={value}"]
        for query in queries:
            if route.method != "GET" and query:
                continue
            response = apps[route.function].request(route.method, path + query, token=token)
            if response.status_code >= 500:
                problems.append(f"{path + query[:80]}: {response.status_code}")
    if route.method == "GET":
        assert document_counts() == before
    assert not problems, problems
