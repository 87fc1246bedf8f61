"""Authorization matrix (issue 10): every route of every function x {anonymous, deactivated
user, owner, another user, moderator, admin} → the expected status.

The routes come from the route table (``tools.functions.routers()``), so a new endpoint is
in the matrix automatically. Expectations are generic, derived from ``route.auth`` and
``route.roles``:

- ``public``: every caller gets the route's status (a bearer token is neither needed nor
  looked at);
- ``user``: anonymous and deactivated callers get 401; a caller without one of
  ``route.roles`` gets 403; everyone else gets the route's status.

A route that addresses a resource (path parameters) or takes a body cannot be called
generically: it needs an entry in ``CASES`` saying how to build the owner's resource and
the request, and what non-owners get (404 by default: others' private resources are
invisible). **A route with neither an entry nor a generic expectation fails the test**, so
adding an endpoint forces a decision here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_runs import definition
from tools.functions import HTTP_FUNCTIONS, load_router
from tools.localstack import Topology

CALLERS = ("anonymous", "deactivated", "owner", "other", "moderator", "admin")
PASSWORD = "correct horse battery staple"


@dataclass
class Principals:
    owner: TestUser
    other: TestUser
    moderator: TestUser
    admin: TestUser
    deactivated: TestUser

    def token(self, caller: str) -> str | None:
        return None if caller == "anonymous" else getattr(self, caller).token

    def user(self, caller: str) -> TestUser:
        return getattr(self, caller)


@dataclass
class World:
    """The owner's resources for one matrix cell, created lazily through the API."""

    apps: dict[str, ApiClient]
    who: Principals
    scratch: dict[str, Any] = field(default_factory=dict[str, Any])

    def _ok(self, response: Any, *statuses: int) -> dict[str, Any]:
        assert response.status_code in statuses, response.get_data(as_text=True)
        return response.get_json()

    @cached_property
    def agent(self) -> str:
        owner = self.who.owner
        body = definition(f"agent-{uuid.uuid4().hex[:8]}")
        return str(self._ok(self.apps["agents"].post("/agents", token=owner.token, json=body), 201)["id"])

    @cached_property
    def run(self) -> str:
        body = {"agent_id": self.agent, "input": "hello"}
        return str(
            self._ok(self.apps["runs"].post("/runs", token=self.who.owner.token, json=body), 200)["id"]
        )

    @cached_property
    def session(self) -> str:
        body = {"agent_id": self.agent}
        response = self.apps["runs"].post("/sessions", token=self.who.owner.token, json=body)
        return str(self._ok(response, 201)["id"])

    @cached_property
    def batch(self) -> str:
        body = {"agent_id": self.agent, "inputs": ["one"]}
        return str(
            self._ok(self.apps["runs"].post("/batches", token=self.who.owner.token, json=body), 202)["id"]
        )

    @cached_property
    def dataset(self) -> str:
        body = {"name": "matrix", "cases": [{"name": "one", "input": "hi"}]}
        response = self.apps["runs"].post("/eval-datasets", token=self.who.owner.token, json=body)
        return str(self._ok(response, 201)["id"])

    @cached_property
    def eval(self) -> str:
        body = {"agent_id": self.agent, "dataset_id": self.dataset}
        response = self.apps["runs"].post("/evals", token=self.who.owner.token, json=body)
        return str(self._ok(response, 202)["id"])

    @cached_property
    def listing(self) -> str:
        body = {"agent_id": self.agent, "category": "coding", "tags": ["matrix"]}
        response = self.apps["marketplace"].post(
            "/marketplace/listings", token=self.who.owner.token, json=body
        )
        return str(self._ok(response, 201)["id"])

    @cached_property
    def workspace_file(self) -> str:
        path = f"notes/{uuid.uuid4().hex[:8]}.txt"
        response = self.apps["agents"].put(
            f"/workspace/files/{path}", token=self.who.owner.token, data=b"owner's notes"
        )
        self._ok(response, 201)
        return path

    @cached_property
    def webhook(self) -> str:
        body = {"url": "http://127.0.0.1:9/hook", "events": ["run.completed"]}
        response = self.apps["automation"].post("/webhooks", token=self.who.owner.token, json=body)
        return str(self._ok(response, 201)["webhook"]["id"])

    @cached_property
    def mcp_server(self) -> str:
        """A bearer-auth registration of an address nobody listens on."""
        body = {"name": "matrix", "url": "http://127.0.0.1:9/mcp", "auth": {"type": "bearer"}}
        response = self.apps["agents"].post("/mcp-servers", token=self.who.owner.token, json=body)
        return str(self._ok(response, 201)["id"])

    @cached_property
    def delivery(self) -> str:
        """A closed (failed) delivery: the test event to an address nobody listens on."""
        response = self.apps["automation"].post(f"/webhooks/{self.webhook}/test", token=self.who.owner.token)
        return str(self._ok(response, 200)["id"])

    @cached_property
    def schedule(self) -> str:
        body = {"agent_id": self.agent, "cron": "@daily", "input": "hello"}
        response = self.apps["automation"].post("/schedules", token=self.who.owner.token, json=body)
        return str(self._ok(response, 201)["id"])

    @cached_property
    def pat(self) -> str:
        """The id of a personal access token of the owner."""
        response = self.apps["auth"].post(
            "/auth/tokens", token=self.who.owner.token, json={"name": "matrix", "scopes": ["runs"]}
        )
        return str(self._ok(response, 201)["token"]["id"])

    def install_listing_as(self, caller: str) -> None:
        if caller in ("anonymous", "deactivated", "owner"):
            return
        token = self.who.token(caller)
        response = self.apps["marketplace"].post(f"/marketplace/listings/{self.listing}/install", token=token)
        self._ok(response, 201)

    def password_account(self) -> str:
        """A user registered through /auth with a password; returns the username."""
        name = f"pw_{uuid.uuid4().hex[:10]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        self._ok(self.apps["auth"].post("/auth/register", json=body), 201)
        return name

    def refresh_token(self) -> str:
        name = self.password_account()
        login = self.apps["auth"].post("/auth/login", json={"username": name, "password": PASSWORD})
        return str(self._ok(login, 200)["refresh_token"])


Params = Callable[[World], Mapping[str, str]]
Body = Callable[[World, str], Any]


def _no_params(world: World) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class Case:
    """How to call one route as each caller, and what non-owners get."""

    params: Params = _no_params
    body: Body | None = None
    # What the owner (an ordinary user acting on their own resource) gets; None: route.status.
    owner: int | None = None
    # What another user, the moderator and the admin get unless ``expect`` says otherwise.
    others: int = 404
    expect: Mapping[str, int] = field(default_factory=dict[str, int])
    # Side effects before the request (e.g. install a listing so the caller may rate it).
    prepare: Callable[[World, str], None] | None = None
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    # A raw (non-JSON) request body.
    data: bytes | Callable[[], bytes] | None = None


def _agent(w: World) -> Mapping[str, str]:
    return {"agent_id": w.agent}


_MCP_PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
_MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _dataset(w: World) -> Mapping[str, str]:
    return {"dataset_id": w.dataset}


def _webhook(w: World) -> Mapping[str, str]:
    return {"webhook_id": w.webhook}


def _schedule(w: World) -> Mapping[str, str]:
    return {"schedule_id": w.schedule}


def _mcp(w: World) -> Mapping[str, str]:
    return {"server_id": w.mcp_server}


def _listing(w: World) -> Mapping[str, str]:
    return {"listing_id": w.listing}


CASES: dict[str, Case] = {
    # auth: public routes with bodies; any bearer token is irrelevant to them.
    "POST /auth/register": Case(
        body=lambda w, c: {
            "username": (name := f"reg_{uuid.uuid4().hex[:10]}"),
            "email": f"{name}@example.com",
            "password": PASSWORD,
        }
    ),
    "POST /auth/login": Case(body=lambda w, c: {"username": w.password_account(), "password": PASSWORD}),
    # The OAuth2 token endpoint (form only): credentials nobody has are 401 for every caller.
    "POST /auth/oauth/token": Case(
        # A new unknown name per call: repeated failures for one name would be throttled (429).
        data=lambda: f"grant_type=password&username=nobody_{uuid.uuid4().hex[:10]}&password=wrong".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        owner=401,
        others=401,
        expect=dict.fromkeys(CALLERS, 401),
    ),
    "POST /auth/refresh": Case(body=lambda w, c: {"refresh_token": w.refresh_token()}),
    "POST /auth/logout": Case(body=lambda w, c: {"refresh_token": w.refresh_token()}),
    # The owner is the target user; only admins may change users (roles={"admin"}).
    "PATCH /auth/users/{user_id}": Case(
        params=lambda w: {"user_id": w.who.owner.id},
        body=lambda w, c: {"role": "user"},
        expect={"admin": 200},
    ),
    # personal access tokens: everyone manages only their own.
    "POST /auth/tokens": Case(body=lambda w, c: {"name": "matrix", "scopes": ["runs"]}, others=201),
    "DELETE /auth/tokens/{token_id}": Case(params=lambda w: {"token_id": w.pat}),
    # agents: others get 404; admins may read anyone's agent but changing it is 403.
    "POST /agents": Case(body=lambda w, c: definition(f"new-{uuid.uuid4().hex[:8]}"), others=201),
    "GET /agents/{agent_id}": Case(params=_agent, expect={"admin": 200}),
    "PUT /agents/{agent_id}": Case(
        params=_agent, body=lambda w, c: definition("changed"), expect={"admin": 403}
    ),
    "DELETE /agents/{agent_id}": Case(params=_agent, expect={"admin": 403}),
    "GET /agents/{agent_id}/versions": Case(params=_agent, expect={"admin": 200}),
    "GET /agents/{agent_id}/versions/{version}": Case(
        params=lambda w: {"agent_id": w.agent, "version": "1"}, expect={"admin": 200}
    ),
    # runs: private to their owner; nobody may run someone else's agent (it bills the caller).
    "POST /runs": Case(body=lambda w, c: {"agent_id": w.agent, "input": "hi"}),
    "GET /runs/{run_id}": Case(params=lambda w: {"run_id": w.run}),
    # The run is finished, so the owner passes authorization and meets 409 (not cancellable).
    "POST /runs/{run_id}/cancel": Case(params=lambda w: {"run_id": w.run}, owner=409),
    # Deciding on a finished run: the owner meets 409 (nothing waits), everyone else 404.
    "POST /runs/{run_id}/approvals": Case(
        params=lambda w: {"run_id": w.run},
        body=lambda w, c: {"decisions": [{"tool_call_id": "c1", "approve": True, "args_sha256": "0" * 64}]},
        owner=409,
    ),
    "GET /runs/{run_id}/events": Case(params=lambda w: {"run_id": w.run}),
    # Replay/fork create a run of the owner's agent from the owner's run: 404 for everyone else.
    "POST /runs/{run_id}/replay": Case(params=lambda w: {"run_id": w.run}, body=lambda w, c: {}),
    "POST /runs/{run_id}/fork": Case(params=lambda w: {"run_id": w.run}, body=lambda w, c: {"at": 0}),
    "GET /runs/{run_id}/messages": Case(params=lambda w: {"run_id": w.run}),
    # The matrix's run writes no files, so even its owner finds no artifact (404); what this
    # row pins is 401 for anonymous/deactivated callers and 404 (not 403) for everyone else.
    "GET /runs/{run_id}/artifacts/{path:path}": Case(
        params=lambda w: {"run_id": w.run, "path": "out/report.md"}, owner=404
    ),
    "POST /batches": Case(body=lambda w, c: {"agent_id": w.agent, "inputs": ["a", "b"]}),
    "GET /batches/{batch_id}": Case(params=lambda w: {"batch_id": w.batch}),
    "GET /batches/{batch_id}/runs": Case(params=lambda w: {"batch_id": w.batch}),
    "POST /sessions": Case(body=lambda w, c: {"agent_id": w.agent}),
    # The OpenAI-compatible API: the model is the owner's agent (by id), others' are 404.
    "POST /v1/chat/completions": Case(
        body=lambda w, c: {"model": w.agent, "messages": [{"role": "user", "content": "hi"}]}
    ),
    "POST /v1/responses": Case(body=lambda w, c: {"model": w.agent, "input": "hi", "store": False}),
    # AG-UI: a raw RunAgentInput body for the owner's agent; only its owner may run it.
    "POST /ag-ui/{agent_id}": Case(
        params=_agent,
        data=json.dumps(
            {
                "threadId": "t1",
                "runId": "r1",
                "state": {},
                "messages": [{"id": "m1", "role": "user", "content": "hi"}],
                "tools": [],
                "context": [],
                "forwardedProps": {},
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
    ),
    # MCP (one JSON-RPC ping): every user has their own server of their own agents; the
    # one-agent server is the owner's only. The agents function redirects to it for anyone.
    "POST /mcp": Case(data=_MCP_PING, headers=_MCP_HEADERS, others=200),
    "POST /mcp/agents/{agent_id}": Case(params=_agent, data=_MCP_PING, headers=_MCP_HEADERS),
    "POST /agents/{agent_id}/mcp": Case(params=_agent),
    # A2A: the owner's agent only. The matrix sends no query, so the card by ?agent_id= is a
    # 422 for every user (401 without a login); a JSON-RPC error is a 200 for the owner.
    "GET /.well-known/agent-card.json": Case(owner=422, others=422),
    "GET /a2a/{agent_id}/.well-known/agent-card.json": Case(params=_agent),
    "POST /a2a/{agent_id}": Case(
        params=_agent,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "x"}}).encode(),
        headers={"Content-Type": "application/json"},
    ),
    "GET /sessions/{session_id}": Case(params=lambda w: {"session_id": w.session}),
    "DELETE /sessions/{session_id}": Case(params=lambda w: {"session_id": w.session}),
    # eval datasets: private until attached to a listing (reads then need no account).
    "POST /eval-datasets": Case(
        body=lambda w, c: {"name": "d", "cases": [{"name": "a", "input": "x"}]}, others=201
    ),
    "POST /eval-datasets/import": Case(body=lambda w, c: {"content": "cases: [{inputs: hi}]"}, others=201),
    "GET /eval-datasets/{dataset_id}": Case(params=_dataset, expect={"anonymous": 404}),
    "GET /eval-datasets/{dataset_id}/export": Case(params=_dataset, expect={"anonymous": 404}),
    "GET /eval-datasets/{dataset_id}/export.yaml": Case(params=_dataset, expect={"anonymous": 404}),
    "PATCH /eval-datasets/{dataset_id}": Case(params=_dataset, body=lambda w, c: {"name": "renamed"}),
    "DELETE /eval-datasets/{dataset_id}": Case(params=_dataset),
    "POST /evals": Case(body=lambda w, c: {"agent_id": w.agent, "dataset_id": w.dataset}),
    "GET /evals/{eval_id}": Case(params=lambda w: {"eval_id": w.eval}, expect={"anonymous": 404}),
    "GET /evals/{eval_id}/results": Case(params=lambda w: {"eval_id": w.eval}, expect={"anonymous": 404}),
    # The matrix's eval is still running, so its owner meets 409.
    "GET /evals/{eval_id}/compare/{base_id}": Case(
        params=lambda w: {"eval_id": w.eval, "base_id": w.eval}, owner=409, expect={"anonymous": 404}
    ),
    # marketplace: listings are public, so non-owners see them exist (403 rather than 404).
    "POST /marketplace/listings": Case(
        body=lambda w, c: {"agent_id": w.agent, "category": "coding", "tags": []},
        # Admins can see the agent (support), so publishing it is 403 rather than 404.
        expect={"admin": 403},
    ),
    "GET /marketplace/listings/{listing_id}": Case(params=_listing),
    "DELETE /marketplace/listings/{listing_id}": Case(
        params=_listing, others=403, expect={"moderator": 204, "admin": 204}
    ),
    # The owner already has the agent: installing their own listing is 409 own_listing.
    "POST /marketplace/listings/{listing_id}/install": Case(params=_listing, owner=409, others=201),
    "GET /marketplace/listings/{listing_id}/download": Case(params=_listing),
    # Only users who installed a listing may rate it; its owner never may.
    "PUT /marketplace/listings/{listing_id}/ratings/me": Case(
        params=_listing,
        body=lambda w, c: {"stars": 4},
        owner=403,
        others=200,
        prepare=lambda w, c: w.install_listing_as(c),
    ),
    "GET /marketplace/listings/{listing_id}/ratings": Case(params=_listing),
    "GET /marketplace/listings/{listing_id}/versions": Case(params=_listing),
    "GET /templates/{name}": Case(
        params=lambda w: {"name": w.apps["agents"].get("/templates").get_json()[0]["name"]}
    ),
    # webhooks: private to their owner.
    "POST /webhooks": Case(
        body=lambda w, c: {"url": "http://127.0.0.1:9/x", "events": ["run.failed"]}, others=201
    ),
    "GET /webhooks/{webhook_id}": Case(params=_webhook),
    "PATCH /webhooks/{webhook_id}": Case(params=_webhook, body=lambda w, c: {"description": "x"}),
    "DELETE /webhooks/{webhook_id}": Case(params=_webhook),
    "POST /webhooks/{webhook_id}/rotate-secret": Case(params=_webhook),
    "POST /webhooks/{webhook_id}/test": Case(params=_webhook),
    "GET /webhooks/{webhook_id}/deliveries": Case(params=_webhook),
    "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": Case(
        params=lambda w: {"webhook_id": w.webhook, "delivery_id": w.delivery}
    ),
    # MCP servers: private to their owner; credentials are the caller's own.
    "POST /mcp-servers": Case(
        body=lambda w, c: {"name": "m", "url": "https://mcp.example.com/mcp"}, others=201
    ),
    # Public (the authorization server's redirect); without a state nothing is done.
    "GET /mcp-servers/oauth/callback": Case(owner=422),
    "GET /mcp-servers/{server_id}": Case(params=_mcp),
    "PATCH /mcp-servers/{server_id}": Case(params=_mcp, body=lambda w, c: {"description": "x"}),
    "DELETE /mcp-servers/{server_id}": Case(params=_mcp),
    # The owner stored no credential for this bearer server yet: 409, everyone else 404.
    "GET /mcp-servers/{server_id}/tools": Case(params=_mcp, owner=409),
    "POST /mcp-servers/{server_id}/tools/accept": Case(
        params=_mcp, body=lambda w, c: {"tools": ["unknown"]}, owner=422
    ),
    "PUT /mcp-servers/{server_id}/credential": Case(params=_mcp, body=lambda w, c: {"token": "matrix-token"}),
    "GET /mcp-servers/{server_id}/credential": Case(params=_mcp, owner=404),
    "DELETE /mcp-servers/{server_id}/credential": Case(params=_mcp),
    # A bearer server cannot start an OAuth flow: 409 for its owner.
    "GET /mcp-servers/{server_id}/oauth/start": Case(params=_mcp, owner=409),
    # schedules: private to their owner; nobody schedules someone else's agent.
    "POST /schedules": Case(body=lambda w, c: {"agent_id": w.agent, "cron": "@daily", "input": "x"}),
    "GET /schedules/{schedule_id}": Case(params=_schedule),
    "PATCH /schedules/{schedule_id}": Case(params=_schedule, body=lambda w, c: {"description": "x"}),
    "DELETE /schedules/{schedule_id}": Case(params=_schedule),
    "POST /schedules/{schedule_id}/run-now": Case(params=_schedule),
    "GET /schedules/{schedule_id}/runs": Case(params=_schedule),
    # workspace: a path names a file in the caller's own workspace, so another caller's
    # PUT writes to theirs (201) and their GET/DELETE find nothing (404).
    "PUT /workspace/files/{path:path}": Case(
        params=lambda w: {"path": "notes/new.txt"}, data=b"hello", others=201
    ),
    "GET /workspace/files/{path:path}": Case(params=lambda w: {"path": w.workspace_file}),
    "DELETE /workspace/files/{path:path}": Case(params=lambda w: {"path": w.workspace_file}),
}


@dataclass(frozen=True)
class RouteRef:
    function: str
    method: str
    path: str
    auth: str
    roles: frozenset[str] | None
    status: int
    has_body: bool
    path_params: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def all_routes() -> list[RouteRef]:
    found: list[RouteRef] = []
    for function in HTTP_FUNCTIONS:
        for route in load_router(function).routes:
            found.append(
                RouteRef(
                    function=function.name,
                    method=route.method,
                    path=route.path,
                    auth=route.auth,
                    roles=route.roles,
                    status=route.status,
                    has_body=route.body is not None or route.body_kind == "raw",
                    path_params=tuple(route.path_params),
                )
            )
    return found


ROUTES = all_routes()
ROLE_OF = {
    "owner": "user",
    "other": "user",
    "deactivated": "user",
    "moderator": "moderator",
    "admin": "admin",
}


def case_for(route: RouteRef) -> Case | None:
    """The route's entry, or the generic case for a parameterless body-less route (None: missing)."""
    if route.key in CASES:
        return CASES[route.key]
    if route.path_params or route.has_body:
        return None
    # A list/info route: every permitted caller gets its own view with the route's status.
    return Case(others=route.status)


def expected_status(route: RouteRef, case: Case, caller: str) -> int:
    owner_status = case.owner if case.owner is not None else route.status
    if route.auth == "public":
        return case.expect.get(caller, owner_status)
    if caller == "anonymous" and caller in case.expect:
        return case.expect[caller]  # auth="optional": anonymous callers are served
    if caller in ("anonymous", "deactivated"):
        return 401
    if route.roles and ROLE_OF[caller] not in route.roles:
        return 403
    if caller == "owner":
        return owner_status
    return case.expect.get(caller, case.others)


@pytest.fixture
def principals(make_user: Callable[..., TestUser]) -> Principals:
    from shared import db

    deactivated = make_user()
    db.update(db.collection("users").document(deactivated.id), {"is_active": False})
    return Principals(make_user(), make_user(), make_user("moderator"), make_user("admin"), deactivated)


@pytest.fixture(autouse=True)
def cheap_argon2_and_topics(env: Callable[..., None], pubsub_topology: Topology) -> None:
    # Async creations (batches) publish to this test's own topics; nothing consumes them.
    env(
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_COST_KIB="8192",
        ARGON2_PARALLELISM="1",
        RUN_RATE_LIMIT_PER_MINUTE="0",
    )


def test_every_route_has_an_expectation() -> None:
    missing = [f"{r.function}: {r.key}" for r in ROUTES if case_for(r) is None]
    assert not missing, "routes without an authorization expectation (add them to CASES): " + ", ".join(
        missing
    )
    stale = sorted(set(CASES) - {r.key for r in ROUTES})
    assert not stale, f"CASES entries for routes that no longer exist: {stale}"


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_authorization_matrix(apps: dict[str, ApiClient], principals: Principals, route: RouteRef) -> None:
    case = case_for(route)
    if case is None:
        pytest.fail(f"no authorization expectation for {route.key} (add it to CASES)")
    mismatches: list[str] = []
    for caller in CALLERS:
        # A fresh set of the owner's resources per caller: a caller's successful DELETE
        # must not change what the next caller meets.
        world = World(apps, principals)
        params = case.params(world)
        path = route.path
        for name in route.path_params:
            value = params[name]
            path = path.replace("{" + name + ":path}", value).replace("{" + name + "}", value)
        if case.prepare is not None:
            case.prepare(world, caller)
        body = case.body(world, caller) if case.body is not None else None
        data = case.data() if callable(case.data) else case.data
        extra: dict[str, Any] = {"data": data} if data is not None else {}
        response = apps[route.function].request(
            route.method, path, token=principals.token(caller), json=body, headers=dict(case.headers), **extra
        )
        want = expected_status(route, case, caller)
        got = response.status_code
        if got != want:
            mismatches.append(f"{caller}: expected {want}, got {got} {response.get_data(as_text=True)[:200]}")
        elif got >= 400:
            payload = response.get_json()
            assert isinstance(payload, dict) and set(payload) == {"error"}, (caller, payload)
    assert not mismatches, f"{route.key}:\n" + "\n".join(mismatches)


# -- personal access tokens: the scope each route declares, for its owner --------------------


def _pat(user: TestUser, scopes: list[str]) -> str:
    from shared.auth.personal_tokens import create_token

    _, secret = create_token(
        user.id,
        user.role,
        name="matrix",
        scopes=scopes,
        expires_in_days=None,
        agent_ids=None,  # type: ignore[arg-type]
    )
    return secret


SCOPED_ROUTES = [r for r in ROUTES if r.auth == "user"]


@pytest.mark.parametrize("route", SCOPED_ROUTES, ids=[r.key for r in SCOPED_ROUTES])
def test_token_scope_matrix(apps: dict[str, ApiClient], principals: Principals, route: RouteRef) -> None:
    """The route's owner (the admin for admin routes) with a personal access token: one
    lacking the route's scope gets 403 with a clear code and writes nothing; one with
    exactly that scope gets what a login session gets."""
    from shared.auth.scopes import ANY_TOKEN, INTERACTIVE, SCOPES

    case = case_for(route)
    assert case is not None
    scope = next(
        r.scope
        for r in load_router(next(f for f in HTTP_FUNCTIONS if f.name == route.function)).routes
        if r.method == route.method and r.path == route.path
    )
    caller = "admin" if route.roles and "user" not in route.roles else "owner"
    who = principals.user(caller)
    usable = [s for s in SCOPES if s != "admin" or who.role == "admin"]

    def call(token: str) -> Any:
        world = World(apps, principals)
        params = case.params(world)
        path = route.path
        for name in route.path_params:
            value = params[name]
            path = path.replace("{" + name + ":path}", value).replace("{" + name + "}", value)
        if case.prepare is not None:
            case.prepare(world, caller)
        body = case.body(world, caller) if case.body is not None else None
        data = case.data() if callable(case.data) else case.data
        extra: dict[str, Any] = {"data": data} if data is not None else {}
        return apps[route.function].request(
            route.method, path, token=token, json=body, headers=dict(case.headers), **extra
        )

    if scope in (None, INTERACTIVE):
        response = call(_pat(who, usable))
        assert response.status_code == 403, response.get_data(as_text=True)
        assert response.get_json()["error"]["code"] == "interactive_login_required"
        return
    want = expected_status(route, case, caller)
    if scope == ANY_TOKEN:
        assert call(_pat(who, ["runs"])).status_code == want
        return
    lacking = [s for s in usable if s != scope]
    refused = call(_pat(who, lacking))
    assert refused.status_code == 403, refused.get_data(as_text=True)
    # Nothing is written but the fresh token's first last-used mark.
    assert refused.headers.get("X-Firestore-Writes", "1") == "1"
    if route.path.startswith("/v1/"):  # OpenAI's error shape
        assert refused.get_json()["error"]["code"] == "insufficient_scope"
    else:
        assert refused.get_json()["error"] == {
            "code": "insufficient_scope",
            "message": f"this token lacks the scope '{scope}'",
            "details": {"required_scope": scope},
        }
    response = call(_pat(who, [scope]))
    assert response.status_code == want, response.get_data(as_text=True)


# -- personal access tokens restricted to agents ---------------------------------------------

# Path parameters that name a resource bound to one agent (the agent itself, or a run,
# session, batch, eval or schedule of it).
AGENT_BOUND_PARAMS = {"agent_id", "run_id", "session_id", "batch_id", "eval_id", "schedule_id"}
# Routes whose body names the agent.
AGENT_BODY_ROUTES = {
    "POST /runs",
    "POST /sessions",
    "POST /batches",
    "POST /evals",
    "POST /schedules",
    "POST /marketplace/listings",
    "POST /v1/chat/completions",
    "POST /v1/responses",
}
AGENT_BOUND_ROUTES = [
    r
    for r in SCOPED_ROUTES
    if r.key in AGENT_BODY_ROUTES or (set(r.path_params) & AGENT_BOUND_PARAMS and not r.roles)
]


def _restricted_pat(user: TestUser, agent_ids: list[str]) -> str:
    from shared.auth.personal_tokens import create_token
    from shared.auth.scopes import SCOPES

    _, secret = create_token(
        user.id,
        user.role,
        name="restricted",
        scopes=[s for s in SCOPES if s != "admin"],
        expires_in_days=None,
        agent_ids=agent_ids,
    )
    return secret


@pytest.mark.parametrize("route", AGENT_BOUND_ROUTES, ids=[r.key for r in AGENT_BOUND_ROUTES])
def test_agent_restricted_token_matrix(
    apps: dict[str, ApiClient], principals: Principals, route: RouteRef
) -> None:
    """The owner's token with every scope but restricted to another of their agents: every
    route addressing the agent, or a run, session, batch, eval or schedule of it, is 403
    ``agent_not_allowed`` (reads too) and writes nothing."""
    case = case_for(route)
    assert case is not None
    world = World(apps, principals)
    params = case.params(world)
    path = route.path
    for name in route.path_params:
        value = params[name]
        path = path.replace("{" + name + ":path}", value).replace("{" + name + "}", value)
    if case.prepare is not None:
        case.prepare(world, "owner")
    body = case.body(world, "owner") if case.body is not None else None
    data = case.data() if callable(case.data) else case.data
    extra: dict[str, Any] = {"data": data} if data is not None else {}
    elsewhere = apps["agents"].post("/agents", token=principals.owner.token, json=definition("elsewhere"))
    secret = _restricted_pat(principals.owner, [elsewhere.get_json()["id"]])
    response = apps[route.function].request(
        route.method, path, token=secret, json=body, headers=dict(case.headers), **extra
    )
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "agent_not_allowed"
    # Nothing is written but the fresh token's first last-used mark.
    assert response.headers.get("X-Firestore-Writes", "1") == "1"


def test_agent_restricted_token_lists_only_its_agents(
    apps: dict[str, ApiClient], principals: Principals
) -> None:
    """Lists of runs, sessions, evals and schedules show a restricted token only its agents'
    items; filtering by another agent is 403."""
    mine, theirs = World(apps, principals), World(apps, principals)
    owned = {"runs": mine.run, "sessions": mine.session, "evals": mine.eval, "schedules": mine.schedule}
    hidden = {
        "runs": theirs.run,
        "sessions": theirs.session,
        "evals": theirs.eval,
        "schedules": theirs.schedule,
    }
    secret = _restricted_pat(principals.owner, [mine.agent])
    login = principals.owner.token
    runs = apps["runs"]
    for name in ("runs", "sessions", "evals", "schedules"):
        api = apps["automation"] if name == "schedules" else runs
        everything = {i["id"] for i in api.get(f"/{name}?limit=100", token=login).get_json()["items"]}
        assert {owned[name], hidden[name]} <= everything, name
        seen = api.get(f"/{name}?limit=100", token=secret).get_json()
        assert {i["agent_id"] for i in seen["items"]} == {mine.agent}, name
        assert owned[name] in {i["id"] for i in seen["items"]}
        if name == "schedules":
            continue  # GET /schedules has no agent filter
        refused = runs.get(f"/{name}?agent_id={theirs.agent}", token=secret)
        assert refused.status_code == 403, (name, refused.get_data(as_text=True))
        assert runs.get(f"/{name}?agent_id={mine.agent}", token=secret).status_code == 200


def test_restricted_listing_pages_merge_more_agents_than_one_in_filter(
    apps: dict[str, ApiClient], principals: Principals
) -> None:
    """A token restricted to more agents than one Firestore ``in`` filter takes (30) pages
    through its runs newest first with no gap and no repeat."""
    from shared.pagination import _MAX_IN_VALUES  # pyright: ignore[reportPrivateUsage]

    owner = principals.owner
    agents = [
        apps["agents"].post("/agents", token=owner.token, json=definition(f"a{i}")).get_json()["id"]
        for i in range(_MAX_IN_VALUES + 2)
    ]
    # Runs of the first and the last two agents (different `in` groups), and of one outside.
    ran = [agents[0], agents[-1], agents[0], agents[-2], agents[-1]]
    run_ids = [
        apps["runs"].post("/runs", token=owner.token, json={"agent_id": a, "input": "hi"}).get_json()["id"]
        for a in ran
    ]
    outside = apps["agents"].post("/agents", token=owner.token, json=definition("out")).get_json()["id"]
    apps["runs"].post("/runs", token=owner.token, json={"agent_id": outside, "input": "hi"})
    secret = _restricted_pat(owner, agents)
    seen: list[str] = []
    cursor = ""
    while True:
        page = apps["runs"].get(f"/runs?limit=2{cursor}", token=secret).get_json()
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == list(reversed(run_ids))
