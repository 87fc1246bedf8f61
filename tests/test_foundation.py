"""The shared HTTP layer, health, logging, OpenAPI and the gateway (issue: foundation)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PROJECT, ApiClient, LiveStack
from tools import localstack
from tools.functions import HTTP_FUNCTIONS

ECHO_SOURCE = Path(__file__).parent / "fixtures" / "echo_main.py"


@pytest.fixture(scope="module")
def echo() -> object:
    import functions_framework

    return functions_framework.create_app(target="echo_api", source=str(ECHO_SOURCE)).test_client()


def assert_error(response: object, status: int, code: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code:
        assert body["error"]["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)  # type: ignore[attr-defined]
    return body["error"]


@pytest.mark.parametrize("function", [f.name for f in HTTP_FUNCTIONS])
def test_health_reports_backends(apps: dict[str, ApiClient], function: str) -> None:
    router = __import__("tools.functions", fromlist=["load_router"]).load_router(
        next(f for f in HTTP_FUNCTIONS if f.name == function)
    )
    response = apps[function].get(f"{router.prefixes[0]}/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["function"] == function
    assert body["backends"]["firestore"]["status"] == "ok"
    assert response.headers["X-Request-Id"]


def test_health_is_503_when_firestore_is_unreachable(apps: dict[str, ApiClient], env: object) -> None:
    env(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{localstack.free_port()}")  # type: ignore[operator]
    response = apps["agents"].get("/agents/health")
    error = assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"]
    assert error["details"]["backends"]["firestore"]["status"] == "unavailable"  # type: ignore[index]


def _health_becomes(app: ApiClient, status: int, within: float = 90.0) -> int:
    """Poll /auth/health until it answers ``status`` (a loaded machine starts emulators slowly)."""
    deadline = time.monotonic() + within
    seen = 0
    while time.monotonic() < deadline:
        seen = app.get("/auth/health").status_code
        if seen == status:
            return seen
        time.sleep(0.2)
    return seen


def test_health_recovers_after_emulator_restart(
    apps: dict[str, ApiClient], env: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop the Firestore emulator: 503. Start it again on the same port: 200, same app."""
    from shared import db

    monkeypatch.setattr(db, "RPC_TIMEOUT_SECONDS", 2.0)  # the 503 comes after the deadline
    port = localstack.free_port()
    emulator = localstack.start_firestore(port, tmp_path)
    try:
        env(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{port}")  # type: ignore[operator]
        assert _health_becomes(apps["auth"], 200) == 200
        emulator.stop()
        assert not localstack.port_open(port), "the emulator's group outlived stop()"
        assert_error(apps["auth"].get("/auth/health"), 503, "unavailable")
        emulator = localstack.start_firestore(port, tmp_path)
        assert _health_becomes(apps["auth"], 200) == 200
    finally:
        emulator.stop()


def test_valid_body_is_parsed(echo: object) -> None:
    response = echo.post("/echo", json={"name": "ada", "count": 2})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.get_json() == {"name": "ada", "count": 2}


def test_malformed_json_is_400(echo: object) -> None:
    response = echo.post("/echo", data=b'{"name": ', content_type="application/json")  # type: ignore[attr-defined]
    assert_error(response, 400, "malformed_json")


def test_duplicate_keys_are_400(echo: object) -> None:
    response = echo.post("/echo", data=b'{"name": "a", "name": "b"}', content_type="application/json")  # type: ignore[attr-defined]
    assert_error(response, 400, "malformed_json")


def test_deeply_nested_json_is_400(echo: object) -> None:
    body = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert_error(echo.post("/echo", data=body, content_type="application/json"), 400, "malformed_json")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body", [b'{"name": "a", "count": NaN}', b'{"name": "a", "count": -Infinity}', b'{"name": 1e400}']
)
def test_numbers_json_has_not_are_400(echo: object, body: bytes) -> None:
    assert_error(echo.post("/echo", data=body, content_type="application/json"), 400, "malformed_json")  # type: ignore[attr-defined]


@pytest.mark.parametrize("count", ["2", False, True, 2.5, None])
def test_json_bodies_are_held_to_their_declared_types(echo: object, count: object) -> None:
    # schemathesis: `false` for an integer was accepted (pydantic's lax mode made it 0); the
    # document says integer, so "2", booleans and fractions are refused (query strings stay lax).
    error = assert_error(echo.post("/echo", json={"name": "a", "count": count}), 422, "validation_error")  # type: ignore[attr-defined]
    assert [f["loc"] for f in error["details"]["fields"]] == ["count"]  # type: ignore[index]
    assert echo.post("/echo", json={"name": "a", "count": 2}).get_json() == {"name": "a", "count": 2}  # type: ignore[attr-defined]
    # ... but 2.0 is an integer in JSON Schema (schemathesis sends it): accepted as 2.
    assert echo.post("/echo", json={"name": "a", "count": 2.0}).get_json() == {"name": "a", "count": 2}  # type: ignore[attr-defined]


def test_non_json_content_type_is_415(echo: object) -> None:
    response = echo.post("/echo", data="name=ada", content_type="text/plain")  # type: ignore[attr-defined]
    assert_error(response, 415, "unsupported_media_type")


def test_two_mebibyte_body_is_413(echo: object) -> None:
    body = json.dumps({"name": "a" * (2 * 1024 * 1024)})
    response = echo.post("/echo", data=body, content_type="application/json")  # type: ignore[attr-defined]
    assert_error(response, 413, "payload_too_large")


def test_validation_error_is_422_naming_the_field(echo: object) -> None:
    error = assert_error(echo.post("/echo", json={"name": "", "count": 9}), 422, "validation_error")  # type: ignore[attr-defined]
    locs = {f["loc"] for f in error["details"]["fields"]}  # type: ignore[index]
    assert locs == {"name", "count"}


def test_unknown_path_is_404_and_wrong_method_405(echo: object) -> None:
    assert_error(echo.get("/nope"), 404, "route_not_found")  # type: ignore[attr-defined]
    response = echo.delete("/echo")  # type: ignore[attr-defined]
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_unhandled_error_is_a_generic_500(echo: object, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = echo.get("/echo/boom")  # type: ignore[attr-defined]
    error = assert_error(response, 500, "internal")
    assert "secret internal detail" not in json.dumps(error)
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_request_id_is_echoed_or_generated(echo: object) -> None:
    generated = echo.get("/nope").headers["X-Request-Id"]  # type: ignore[attr-defined]
    assert len(generated) == 32
    given = echo.get("/nope", headers={"X-Request-Id": "req-12345678"}).headers["X-Request-Id"]  # type: ignore[attr-defined]
    assert given == "req-12345678"
    assert echo.get("/nope", headers={"X-Request-Id": "bad id!"}).headers["X-Request-Id"] != "bad id!"  # type: ignore[attr-defined]


def test_json_log_lines_carry_severity_and_trace() -> None:
    from shared import logs

    formatter = logs.JsonFormatter(PROJECT)
    trace = logs.parse_trace_headers(None, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    logs.set_request_context("rid-1", trace)
    try:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
        line = json.loads(formatter.format(record))
    finally:
        logs.set_request_context(None, None)
    assert line["severity"] == "WARNING" and line["message"] == "hello world"
    assert (
        line["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/0af7651916cd43dd8448eb211c80319c"
    )
    assert line["request_id"] == "rid-1"
    assert logs.parse_trace_headers("105445aa7843bc8bf206b12000100000/1;o=1", None) == (
        "105445aa7843bc8bf206b12000100000",
        "1",
    )
    assert logs.parse_trace_headers(None, "garbage") is None


def test_missing_setting_is_named() -> None:
    from shared.errors import ConfigurationError
    from shared.settings import Settings

    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        Settings(jwt_secret=None, environment="local").jwt_signing_key()


def test_openapi_covers_every_route() -> None:
    from tools.functions import openapi_document, routers

    doc = openapi_document()
    assert doc["openapi"] == "3.1.0"
    for router in routers():
        for route in router.routes:
            assert route.method.lower() in doc["paths"][route.openapi_path]  # type: ignore[index]
    assert "ErrorBody" in doc["components"]["schemas"]  # type: ignore[index]


def test_gateway_routes_by_prefix(live_stack: LiveStack) -> None:
    for function in HTTP_FUNCTIONS:
        prefix = __import__("tools.functions", fromlist=["load_router"]).load_router(function).prefixes[0]
        response = requests.get(f"{live_stack.base_url}{prefix}/health", timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["function"] == function.name
    missing = requests.get(f"{live_stack.base_url}/nowhere", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"
    spec = requests.get(f"{live_stack.base_url}/openapi.json", timeout=10).json()
    assert "/auth/health" in spec["paths"]


def test_client_ip_ignores_client_supplied_forwarded_entries(env: object) -> None:
    import flask

    from shared.web.context import RequestContext

    app = flask.Flask("t")
    spoofed = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    with app.test_request_context("/", headers=spoofed, environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        ctx = RequestContext(flask.request, None, {}, "rid")  # type: ignore[arg-type]
        assert ctx.client_ip == "203.0.113.7"
    env(TRUSTED_PROXY_HOPS="2")  # type: ignore[operator]
    with app.test_request_context("/", headers=spoofed, environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        ctx = RequestContext(flask.request, None, {}, "rid")  # type: ignore[arg-type]
        assert ctx.client_ip == "6.6.6.6"
    env(TRUSTED_PROXY_HOPS="0")  # type: ignore[operator]
    with app.test_request_context("/", headers=spoofed, environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        ctx = RequestContext(flask.request, None, {}, "rid")  # type: ignore[arg-type]
        assert ctx.client_ip == "10.0.0.1"


def test_validation_locations_use_brackets_for_list_items() -> None:
    from shared.web.parsing import format_loc

    assert format_loc(("tools", 1, "config", "max_bytes")) == "tools[1].config.max_bytes"
    assert format_loc((0, "name")) == "[0].name"
    assert format_loc(("name",)) == "name"


def test_cost_headers_are_off_in_the_cloud_unless_asked_for() -> None:
    from shared.settings import Settings

    assert Settings(environment="test").cost_headers_enabled
    assert not Settings(environment="cloud").cost_headers_enabled
    assert Settings(environment="cloud", expose_cost_headers=True).cost_headers_enabled


def test_any_json_survives_a_firestore_round_trip() -> None:
    """Values a Firestore document cannot hold natively are stored as text and read back as
    they were (shared/db_values.py); plain values and our own fields stay native."""
    from google.cloud import firestore

    from shared import db

    awkward = {
        "reserved": {"__main__": 1, "": 2, "~json": "3"},
        "nested_arrays": [[1, [2]], [], "x"],
        "huge": -(10**40),
        "long_key": {"k" * 2000: None},
        "deep": json.loads('{"a":' * 40 + "1" + "}" * 40),
    }
    plain = {"owner_id": "u1", "n": 3, "tags": ["a", "b"], "meta": {"x": [1, {"y": 2}]}}
    ref = db.collection("round_trip").document("d")
    db.set(ref, {**plain, **awkward})
    assert db.get(ref).to_dict() == {**plain, **awkward}
    mine = db.collection("round_trip").where(filter=firestore.FieldFilter("owner_id", "==", "u1"))
    (snap,) = db.query(mine)
    assert snap.to_dict() == {**plain, **awkward}
    db.update(ref, {"meta.x": [[0]], "huge": 2**64})
    assert db.get_all([ref])[0].to_dict() == {**plain, **awkward, "meta": {"x": [[0]]}, "huge": 2**64}
    raw = firestore.Client(project=PROJECT).collection("round_trip").document("d").get().to_dict() or {}
    assert {k: raw[k] for k in plain if k != "meta"} == {k: v for k, v in plain.items() if k != "meta"}
    assert raw["reserved"] == {"~json": '{"__main__":1,"":2,"~json":"3"}'}


@pytest.mark.parametrize("doc_id", ["__main__", "____", ".", "..", "a/b", "", "x" * 129])
def test_ids_firestore_refuses_are_unknown_not_errors(doc_id: str) -> None:
    # A body id such as POST /marketplace/listings' agent_id "__main__" was a 500.
    from shared import db
    from shared.agents.repository import AgentRecord

    assert db.load("agents", doc_id, AgentRecord) is None


def test_route_groups_load_on_first_use_and_stay_in_declaration_order() -> None:
    # A fresh interpreter: other tests have imported every group already.
    script = """
import sys
from tools.functions import load_router, spec
router = load_router(spec("runs"))
lazy = ["shared.evals.routes", "shared.openai_compat.routes", "shared.ag_ui.routes",
        "shared.mcp_server.routes", "shared.a2a_server.routes"]
print([m for m in lazy if m in sys.modules])
router.match("GET", "/runs/abc")
print([m for m in lazy if m in sys.modules])
route, params = router.match("GET", "/evals/abc")
print(route.name, params, [m for m in lazy if m in sys.modules])
print(*[r.path for r in router.routes][-3:])
"""
    import subprocess
    import sys

    from tools.functions import ROOT

    lines = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert lines[0] == "[]" and lines[1] == "[]", lines
    assert lines[2] == "get_eval {'eval_id': 'abc'} ['shared.evals.routes']", lines
    # Listing every route (the OpenAPI document) imports the rest, in declaration order.
    assert lines[3].split() == [
        "/.well-known/agent-card.json",
        "/a2a/{agent_id}/.well-known/agent-card.json",
        "/a2a/{agent_id}",
    ]


def test_a_route_group_cannot_declare_routes_outside_its_prefixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.web import Router

    (tmp_path / "stray_group.py").write_text(
        "from shared.web import Router\n"
        "routes = Router('runs', ())\n"
        "@routes.route('GET', '/elsewhere/{x}')\n"
        "def elsewhere(ctx):\n    return {}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    router = Router("runs", ("/runs",))
    router.include_lazily("stray_group", ("/stray",))
    with pytest.raises(ValueError, match="outside"):
        router.match("GET", "/stray/1")
    other = Router("agents", ())
    with pytest.raises(ValueError, match="route group"):
        router.include(other)
