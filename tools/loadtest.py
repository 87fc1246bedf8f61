"""Load the whole local stack with N concurrent users, then check nothing was lost.

Each user registers, logs in, creates an agent, a session and (the first few) a marketplace
listing, then until the deadline picks operations from a realistic mix: reads and writes of
agents, sync / streamed / async runs, session turns, batches, marketplace search, install and
rating, workspace files. Every response is timed per operation.

Afterwards :func:`verify` checks what the clients were given: every run id exists and
finishes, every batch's counts add up to its inputs, every session holds one user and one
assistant message per turn, every workspace file reads back as written. Used small by
``tests/test_load.py`` (correctness: 0 5xx, 0 lost) and large by ``bench/load.py``
(throughput and p50/p99 per operation).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

TERMINAL = {"succeeded", "failed", "cancelled"}
PASSWORD = "load-test-" + uuid.uuid4().hex  # one per process, never a fixed secret

# Relative weights of the operations in a user's loop.
MIX: dict[str, int] = {
    "get_agent": 10,
    "list_agents": 4,
    "update_agent": 3,
    "create_agent": 2,
    "sync_run": 8,
    "stream_run": 7,
    "async_run": 7,
    "session_run": 6,
    "batch": 2,
    "search": 6,
    "install": 2,
    "rate": 2,
    "file_put": 4,
    "file_get": 4,
    "me": 2,
    "login": 1,
}


def _definition(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": f"Load {name}",
        "description": "An agent of the load test.",
        "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
        "system_prompt": "Answer briefly.",
        "tools": [],
    }


@dataclass
class Ledger:
    """What the clients were given, and every response, shared by all users."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    server_errors: list[str] = field(default_factory=list[str])
    runs: dict[str, str] = field(default_factory=dict[str, str])  # run id -> user token
    batches: dict[str, tuple[str, int]] = field(default_factory=dict[str, tuple[str, int]])
    sessions: dict[str, tuple[str, int]] = field(default_factory=dict[str, tuple[str, int]])
    files: dict[tuple[str, str], bytes] = field(default_factory=dict[tuple[str, str], bytes])  # (user, path)
    tokens: dict[str, str] = field(default_factory=dict[str, str])  # user -> latest access token
    listings: list[str] = field(default_factory=list[str])
    problems: list[str] = field(default_factory=list[str])
    started: list[float] = field(default_factory=list[float])  # when the timed phase began
    finished: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, status: int, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.samples[op].append(seconds)
            self.statuses[op][status] += 1
            if status >= 500:
                self.server_errors.append(f"{op}: {status} {detail[:200]}")


class _User(threading.Thread):
    def __init__(
        self, base_url: str, index: int, seconds: float, ledger: Ledger, seed: int, ready: threading.Barrier
    ) -> None:
        super().__init__(name=f"load-user-{index}", daemon=True)
        self.base_url, self.index, self.seconds, self.ledger = base_url, index, seconds, ledger
        self.ready = ready
        self.rng = random.Random(seed)
        self.client = httpx.Client(base_url=base_url, timeout=120)
        self.username = f"load{index}_{uuid.uuid4().hex[:8]}"
        self.token = ""
        self.agents: list[tuple[str, int]] = []  # (id, version)
        self.session = ""
        self.session_turns = 0
        self.installed: list[str] = []
        self.paths: list[str] = []
        self.error: BaseException | None = None

    # ----------------------------------------------------------------------- requests

    def _call(self, op: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.ledger.record(op, response.status_code, time.perf_counter() - started, response.text)
        return response

    def _expect(self, response: httpx.Response, *ok: int) -> dict[str, Any] | None:
        if response.status_code in ok:
            return response.json() if response.content else {}
        if response.status_code < 500 and response.status_code != 429:
            with self.ledger.lock:
                request = f"{response.request.method} {response.request.url.path}"
                self.ledger.problems.append(f"{request}: {response.status_code} {response.text[:200]}")
        return None

    def _give_run(self, run: dict[str, Any]) -> None:
        with self.ledger.lock:
            self.ledger.runs[run["id"]] = self.token

    # -------------------------------------------------------------------------- setup

    def setup(self) -> None:
        body = {"username": self.username, "email": f"{self.username}@example.com", "password": PASSWORD}
        self._expect(self._call("register", "POST", "/auth/register", json=body), 201)
        self.login()
        self.create_agent()
        session = self._expect(
            self._call("create_session", "POST", "/sessions", json={"agent_id": self.agents[0][0]}), 201
        )
        if session:
            self.session = session["id"]
        if self.index % 2 == 0:
            body = {
                "agent_id": self.agents[0][0],
                "category": "productivity",
                "tags": ["load"],
                "summary": "load",
            }
            listing = self._expect(self._call("publish", "POST", "/marketplace/listings", json=body), 201)
            if listing:
                with self.ledger.lock:
                    self.ledger.listings.append(listing["id"])

    def login(self) -> None:
        self.token = ""
        body = {"username": self.username, "password": PASSWORD}
        tokens = self._expect(self._call("login", "POST", "/auth/login", json=body), 200)
        if tokens:
            self.token = tokens["access_token"]
            with self.ledger.lock:
                self.ledger.tokens[self.username] = self.token

    # ----------------------------------------------------------------------- the mix

    def create_agent(self) -> None:
        name = f"a{uuid.uuid4().hex[:10]}"
        agent = self._expect(self._call("create_agent", "POST", "/agents", json=_definition(name)), 201)
        if agent:
            self.agents.append((agent["id"], agent["version"]))

    def get_agent(self) -> None:
        agent_id, _ = self.rng.choice(self.agents)
        self._expect(self._call("get_agent", "GET", f"/agents/{agent_id}"), 200)

    def list_agents(self) -> None:
        self._expect(self._call("list_agents", "GET", "/agents"), 200)

    def update_agent(self) -> None:
        slot = self.rng.randrange(len(self.agents))
        agent_id, version = self.agents[slot]
        body = {
            **_definition(f"u{uuid.uuid4().hex[:10]}"),
            "system_prompt": f"Answer in {version + 1} words.",
        }
        response = self._call(
            "update_agent", "PUT", f"/agents/{agent_id}", json=body, headers={"If-Match": str(version)}
        )
        agent = self._expect(response, 200)
        if agent:
            self.agents[slot] = (agent_id, agent["version"])

    def sync_run(self) -> None:
        agent_id, _ = self.rng.choice(self.agents)
        body = {"agent_id": agent_id, "input": "hello", "mode": "sync"}
        run = self._expect(self._call("sync_run", "POST", "/runs", json=body), 200)
        if run:
            self._give_run(run)

    def async_run(self) -> None:
        agent_id, _ = self.rng.choice(self.agents)
        body = {"agent_id": agent_id, "input": "hello", "mode": "async"}
        run = self._expect(self._call("async_run", "POST", "/runs", json=body), 202)
        if run:
            self._give_run(run)

    def session_run(self) -> None:
        if not self.session:
            return
        body = {
            "agent_id": self.agents[0][0],
            "input": f"turn {self.session_turns}",
            "session_id": self.session,
        }
        run = self._expect(self._call("session_run", "POST", "/runs", json=body), 200)
        if run:
            self._give_run(run)
            if run["status"] == "succeeded":
                self.session_turns += 1

    def stream_run(self) -> None:
        agent_id, _ = self.rng.choice(self.agents)
        body = {"agent_id": agent_id, "input": "hello", "mode": "stream"}
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        started = time.perf_counter()
        events: list[tuple[str, str]] = []
        with self.client.stream("POST", "/runs", json=body, headers=headers) as response:
            status = response.status_code
            event = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event:
                    events.append((event, line.split(":", 1)[1].strip()))
            text = "" if status == 200 else response.read().decode(errors="replace")
        self.ledger.record("stream_run", status, time.perf_counter() - started, text)
        if status != 200:
            self._expect(response, 200)
            return
        names = [name for name, _ in events]
        final = [json.loads(data)["run"] for name, data in events if name in ("run.completed", "run.failed")]
        if not final or "run.started" not in names:
            with self.ledger.lock:
                self.ledger.problems.append(f"stream without start/end events: {names}")
            return
        self._give_run(final[0])

    def batch(self) -> None:
        agent_id, _ = self.rng.choice(self.agents)
        inputs = [f"item {i}" for i in range(self.rng.randint(2, 4))]
        batch = self._expect(
            self._call("batch", "POST", "/batches", json={"agent_id": agent_id, "inputs": inputs}), 202
        )
        if batch:
            with self.ledger.lock:
                self.ledger.batches[batch["id"]] = (self.token, len(inputs))

    def search(self) -> None:
        query = self.rng.choice(
            ["?q=load", "?category=productivity&sort=rating", "?sort=installs", "?tags=load"]
        )
        self._expect(self._call("search", "GET", f"/marketplace/listings{query}"), 200)

    def _others_listing(self) -> str | None:
        with self.ledger.lock:
            listings = list(self.ledger.listings)
        own = {agent_id for agent_id, _ in self.agents}
        candidates = [listing for listing in listings if listing not in self.installed]
        self.rng.shuffle(candidates)
        for listing in candidates:
            detail = self._expect(self._call("get_listing", "GET", f"/marketplace/listings/{listing}"), 200)
            if detail and detail["agent_id"] not in own and detail["owner_username"] != self.username:
                return listing
        return None

    def install(self) -> None:
        listing = self._others_listing()
        if listing is None:
            return
        agent = self._expect(self._call("install", "POST", f"/marketplace/listings/{listing}/install"), 201)
        if agent:
            self.installed.append(listing)
            self.agents.append((agent["id"], agent["version"]))

    def rate(self) -> None:
        if not self.installed:
            return
        listing = self.rng.choice(self.installed)
        body = {"stars": self.rng.randint(1, 5), "review": "load"}
        self._expect(self._call("rate", "PUT", f"/marketplace/listings/{listing}/ratings/me", json=body), 200)

    def file_put(self) -> None:
        path = f"notes/{self.rng.randrange(5)}.txt"
        content = f"{self.username} {uuid.uuid4().hex}\n".encode()
        response = self._call(
            "file_put",
            "PUT",
            f"/workspace/files/{path}",
            content=content,
            headers={"Content-Type": "text/plain"},
        )
        if self._expect(response, 200, 201) is not None:
            with self.ledger.lock:
                self.ledger.files[(self.username, path)] = content
            if path not in self.paths:
                self.paths.append(path)

    def file_get(self) -> None:
        if not self.paths:
            return
        path = self.rng.choice(self.paths)
        response = self._call("file_get", "GET", f"/workspace/files/{path}")
        with self.ledger.lock:
            expected = self.ledger.files.get((self.username, path))
        if response.status_code == 200 and response.content != expected:
            with self.ledger.lock:
                self.ledger.problems.append(f"workspace file {path} read back different bytes")

    def me(self) -> None:
        self._expect(self._call("me", "GET", "/auth/me"), 200)

    def run(self) -> None:
        try:
            self.setup()
            if not self.token or not self.agents:
                raise RuntimeError(f"{self.username} could not register, log in and create an agent")
            # Every user is set up before the clock starts; the first round runs every
            # operation once (so a slow machine still covers the whole mix).
            self.ready.wait()
            deadline = time.monotonic() + self.seconds
            operations = list(MIX)
            weights = [MIX[name] for name in operations]
            first_round = self.rng.sample(operations, len(operations))
            while first_round or time.monotonic() < deadline:
                operation = first_round.pop() if first_round else self.rng.choices(operations, weights)[0]
                if operation == "login":
                    self.login()
                else:
                    getattr(self, operation)()
            with self.ledger.lock:
                if self.session:
                    self.ledger.sessions[self.session] = (self.token, self.session_turns)
        except BaseException as exc:  # reported by drive(); a dead user must fail the run
            self.error = exc
            self.ready.abort()
        finally:
            self.client.close()


@dataclass
class LoadReport:
    users: int
    seconds: float
    ledger: Ledger
    lost: list[str]
    unfinished: list[str]
    run_statuses: dict[str, int]
    verify_seconds: float

    @property
    def operations(self) -> int:
        return sum(len(v) for v in self.ledger.samples.values())


def drive(base_url: str, users: int, seconds: float, seed: int = 21) -> Ledger:
    """Run ``users`` concurrent users against ``base_url`` for ``seconds``."""
    ledger = Ledger()
    ready = threading.Barrier(users, action=lambda: ledger.started.append(time.monotonic()))
    threads = [_User(base_url, i, seconds, ledger, seed * 1000 + i, ready) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.finished = time.monotonic()
    for thread in threads:
        if thread.error is not None:
            ledger.problems.append(f"{thread.name} died: {thread.error!r}")
    return ledger


def verify(
    base_url: str, ledger: Ledger, timeout: float = 180.0
) -> tuple[list[str], list[str], dict[str, int]]:
    """Every run a client was given exists and finishes; batches add up; sessions keep every turn.

    Returns (lost, unfinished, run statuses)."""
    lost: list[str] = []
    statuses: dict[str, int] = defaultdict(int)
    pending = dict(ledger.runs)
    with httpx.Client(base_url=base_url, timeout=60) as client:

        def get(path: str, token: str) -> httpx.Response:
            return client.get(path, headers={"Authorization": f"Bearer {token}"})

        # Batch runs are runs the client was given too (through the batch).
        for batch_id, (token, _) in ledger.batches.items():
            cursor = ""
            while True:
                page = get(f"/batches/{batch_id}/runs" + (f"?cursor={cursor}" if cursor else ""), token)
                if page.status_code != 200:
                    lost.append(f"batch {batch_id} runs: {page.status_code}")
                    break
                for run in page.json()["items"]:
                    pending[run["id"]] = token
                cursor = page.json().get("next_cursor") or ""
                if not cursor:
                    break
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for run_id, token in list(pending.items()):
                response = get(f"/runs/{run_id}", token)
                if response.status_code == 404:
                    lost.append(f"run {run_id} does not exist")
                    del pending[run_id]
                elif response.status_code == 200 and response.json()["status"] in TERMINAL:
                    statuses[response.json()["status"]] += 1
                    del pending[run_id]
            if pending:
                time.sleep(1)
        unfinished = [f"run {run_id} not finished after {timeout:.0f} s" for run_id in pending]
        for batch_id, (token, inputs) in ledger.batches.items():
            batch = get(f"/batches/{batch_id}", token).json()
            counts = batch["counts"]
            if batch["total"] != inputs or sum(counts.values()) != inputs:
                lost.append(f"batch {batch_id}: {inputs} inputs, total {batch['total']}, counts {counts}")
            elif counts["queued"] or counts["running"]:
                unfinished.append(f"batch {batch_id} still has queued/running runs: {counts}")
        for session_id, (token, turns) in ledger.sessions.items():
            detail = get(f"/sessions/{session_id}", token).json()
            roles = [message["role"] for message in detail["messages"]]
            if roles.count("user") != turns or roles.count("assistant") != turns:
                lost.append(f"session {session_id}: {turns} turns but messages {roles}")
        for (user, path), content in ledger.files.items():
            response = get(f"/workspace/files/{path}", ledger.tokens[user])
            if response.status_code != 200 or response.content != content:
                lost.append(f"workspace file {path}: {response.status_code}")
    return lost, unfinished, dict(statuses)


def run_load(base_url: str, users: int, seconds: float, verify_timeout: float = 180.0) -> LoadReport:
    ledger = drive(base_url, users, seconds)
    started = time.perf_counter()
    lost, unfinished, statuses = verify(base_url, ledger, verify_timeout)
    return LoadReport(users, seconds, ledger, lost, unfinished, statuses, time.perf_counter() - started)
