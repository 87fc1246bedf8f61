"""Figure 4 — Firestore document reads and writes per operation.

The counts come from the data layer (``shared.db`` counts every read and write and the
HTTP layer returns them as ``X-Firestore-Reads`` / ``X-Firestore-Writes``).
:func:`operation_costs` drives every operation once through the functions' HTTP apps; the
benchmark prints the table and ``tests/test_firestore_cost.py`` pins the same numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench._stack import Api, Figure, Stack, agent_definition

PASSWORD = "correct horse battery"


class Call(Protocol):
    def __call__(
        self, function: str, method: str, path: str, *, token: str | None = None, json: Any = None
    ) -> Any: ...


@dataclass(frozen=True)
class Cost:
    reads: int
    writes: int
    why: str


# What each operation must do, and so the minimum it can cost. The test pins these numbers.
EXPECTED: dict[str, Cost] = {
    "register": Cost(
        2, 3, "reads: the username and email reservations (transaction); writes: user + both reservations"
    ),
    "login": Cost(
        5,
        2,
        "reads: username reservation, user, the pair, account and address-spray throttle windows; "
        "writes: refresh token + its family",
    ),
    "get agent": Cost(2, 0, "the caller (re-read on every request: deactivation is immediate) + the agent"),
    "list agents (2)": Cost(3, 0, "the caller + one per agent returned"),
    "create agent": Cost(
        1,
        3,
        "the caller; writes: agent + version 1 + the name's reservation (names are unique per "
        "owner: the reservation is created in the same commit, never read first — a taken name "
        "fails the commit, so racing creates of one name cannot both win)",
    ),
    "update agent": Cost(
        3, 2, "the caller, the agent and its version slot (transaction); writes: agent + version n+1"
    ),
    "sync run": Cost(
        3,
        7,
        "reads: caller, agent (the run carries the agent's listing id for the stats, and the first "
        "cancel check waits one poll interval, so neither is re-read), the run in the finishing "
        "transition (it may have been ended elsewhere); writes: rate-limit increment (returns the "
        "new count), run created, 3 events (started, text, completed; queued events share a "
        "commit), run finished with its answer as one conversation document in the same transaction "
        "(the recording replay and fork need, issue 20)",
    ),
    "sync run with a tool call": Cost(
        5,
        11,
        "as a sync run (3 reads, 7 writes) plus one event commit more (the tool's call and result "
        "events) and one checkpoint per step — a read of the run's lease and one conversation "
        "document each: the model response that calls the tool, and the tool's result",
    ),
    "sync run paused for approval": Cost(
        4,
        8,
        "reads: caller, agent, the run in two transitions (the checkpoint of the model response "
        "that calls the gated tool, the pause); writes: rate-limit increment, run created, the "
        "checkpoint, the pause (run + its stored deferred calls), 3 event commits (started, the "
        "tool call, run.requires_action) — no instance is held while it waits",
    ),
    "approve and resume (sync)": Cost(
        9,
        10,
        "reads: caller, the run (decision transaction), the event sequence twice (decision and "
        "resume), the pinned agent version, the stored conversation (2 segments), the run in two "
        "transitions (tool-result checkpoint, finish); writes: the decision, 3 event commits "
        "(approval.decided, resumed, tool result), the checkpoint, the finish with the answer's "
        "conversation document (issue 20's recording), the final events (2)",
    ),
    "search (1 result)": Cost(1, 0, "one indexed query, billed per result (at least one)"),
    "install": Cost(
        5,
        6,
        "reads: caller, listing, the caller's existing copy (a reinstall returns it), "
        "stat shards (fold, then re-check for a concurrent update); writes: agent + version + "
        "the copy's name reservation (names are unique per owner), install marker, stat shard, "
        "folded stats on the listing",
    ),
    "rate": Cost(
        6,
        3,
        "reads: caller, listing, install marker (verified rater), previous rating (transaction), "
        "stat shards x2 (fold + re-check); writes: rating, stat shard, folded stats",
    ),
}


def _ok(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.path} → {response.status_code}: "
            f"{response.get_data(as_text=True)[:300]}"
        )
    return response


def _cost(response: Any) -> tuple[int, int]:
    return int(response.headers["X-Firestore-Reads"]), int(response.headers["X-Firestore-Writes"])


def operation_costs(call: Call) -> dict[str, tuple[int, int]]:
    """Run each operation once (on an empty database) and return its (reads, writes)."""
    costs: dict[str, tuple[int, int]] = {}

    def user() -> tuple[str, str]:
        username = f"cost_{uuid.uuid4().hex[:10]}"
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        registered = _ok(call("auth", "POST", "/auth/register", json=body), 201)
        costs.setdefault("register", _cost(registered))
        login = _ok(call("auth", "POST", "/auth/login", json={"username": username, "password": PASSWORD}))
        costs.setdefault("login", _cost(login))
        return registered.get_json()["id"], login.get_json()["access_token"]

    _, token = user()
    created = _ok(call("agents", "POST", "/agents", token=token, json=agent_definition("cost-probe")), 201)
    costs["create agent"] = _cost(created)
    agent_id = created.get_json()["id"]
    costs["get agent"] = _cost(_ok(call("agents", "GET", f"/agents/{agent_id}", token=token)))
    _ok(call("agents", "POST", "/agents", token=token, json=agent_definition("second")), 201)
    costs["list agents (2)"] = _cost(_ok(call("agents", "GET", "/agents", token=token)))
    updated = _ok(
        call("agents", "PUT", f"/agents/{agent_id}", token=token, json=agent_definition("cost-probe"))
    )
    costs["update agent"] = _cost(updated)
    run = _ok(call("runs", "POST", "/runs", token=token, json={"agent_id": agent_id, "input": "hello"}))
    if run.get_json()["status"] != "succeeded":
        raise AssertionError(f"the run ended {run.get_json()['status']}")
    costs["sync run"] = _cost(run)
    tooled = _ok(
        call(
            "agents",
            "POST",
            "/agents",
            token=token,
            json=agent_definition("tool-probe", tools=[{"name": "find", "config": {}}]),
        ),
        201,
    ).get_json()["id"]
    prompt = 'Look\ncall find {"pattern": "*.md"}'
    tool_run = _ok(call("runs", "POST", "/runs", token=token, json={"agent_id": tooled, "input": prompt}))
    if tool_run.get_json()["usage"]["tool_calls"] != 1:
        raise AssertionError(f"the tool run did not call its tool: {tool_run.get_json()}")
    costs["sync run with a tool call"] = _cost(tool_run)
    gated = _ok(
        call(
            "agents",
            "POST",
            "/agents",
            token=token,
            json=agent_definition(
                "approval-probe", tools=[{"name": "file_write", "config": {"requires_approval": True}}]
            ),
        ),
        201,
    ).get_json()["id"]
    write = 'Save\ncall file_write {"path": "cost.txt", "content": "x"}'
    paused = _ok(call("runs", "POST", "/runs", token=token, json={"agent_id": gated, "input": write}))
    if paused.get_json()["status"] != "requires_action":
        raise AssertionError(f"the run did not pause: {paused.get_json()['status']}")
    costs["sync run paused for approval"] = _cost(paused)
    item = paused.get_json()["required_action"]["items"][0]
    decision = {"tool_call_id": item["tool_call_id"], "approve": True, "args_sha256": item["args_sha256"]}
    resumed = _ok(
        call(
            "runs",
            "POST",
            f"/runs/{paused.get_json()['id']}/approvals",
            token=token,
            json={"decisions": [decision], "mode": "sync"},
        )
    )
    if resumed.get_json()["status"] != "succeeded":
        raise AssertionError(f"the approved run ended {resumed.get_json()['status']}")
    costs["approve and resume (sync)"] = _cost(resumed)
    listing = {"agent_id": agent_id, "category": "coding", "tags": ["bench"]}
    listing_id = _ok(
        call("marketplace", "POST", "/marketplace/listings", token=token, json=listing), 201
    ).get_json()["id"]
    costs["search (1 result)"] = _cost(_ok(call("marketplace", "GET", "/marketplace/listings?q=cost")))
    _, other = user()
    install = _ok(
        call("marketplace", "POST", f"/marketplace/listings/{listing_id}/install", token=other), 201
    )
    costs["install"] = _cost(install)
    rating = _ok(
        call(
            "marketplace",
            "PUT",
            f"/marketplace/listings/{listing_id}/ratings/me",
            token=other,
            json={"stars": 4},
        )
    )
    costs["rate"] = _cost(rating)
    return costs


def api_caller(apps: dict[str, Api]) -> Call:
    def call(function: str, method: str, path: str, *, token: str | None = None, json: Any = None) -> Any:
        return apps[function].call(method, path, token=token, json=json)

    return call


def run(stack: Stack, extra: Callable[[], dict[str, tuple[int, int]]] | None = None) -> Figure:
    import os

    from bench._stack import reset_caches

    stack.wipe()
    apps = {name: Api(name) for name in ("auth", "agents", "runs", "marketplace")}
    # Deterministic counts: stat writes pick a random shard and a fold reads every non-empty one.
    os.environ["MARKETPLACE_STAT_SHARDS"] = "1"
    reset_caches()
    try:
        costs = operation_costs(api_caller(apps))
    finally:
        os.environ.pop("MARKETPLACE_STAT_SHARDS", None)
        reset_caches()
    if extra is not None:
        costs.update(extra())
    figure = Figure(
        "4. Firestore cost per operation (document reads / writes, counted by shared/db.py)",
        ["operation", "reads", "writes", "pinned", "what it must do"],
    )
    for name, (reads, writes) in costs.items():
        expected = EXPECTED.get(name)
        pinned = (
            "—"
            if expected is None
            else (
                "yes"
                if (expected.reads, expected.writes) == (reads, writes)
                else f"differs: pinned {expected.reads}/{expected.writes}"
            )
        )
        figure.rows.append([name, str(reads), str(writes), pinned, expected.why if expected else ""])
    figure.notes.append(
        "- `tests/test_firestore_cost.py` pins these numbers: a change that adds a read or a write fails it."
    )
    return figure
