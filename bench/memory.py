"""Figure 2 — memory: peak RSS of each function after its first request.

Each function is started exactly as in production-like local serving (``python -m
functions_framework`` → gunicorn, one worker), sent one representative request, and the
peak RSS (``VmHWM`` in ``/proc/<pid>/status``) of the process that served it is read. The
floor is the same server running a minimal app that imports the floor modules
(functions-framework, google-cloud-firestore, pyjwt, pydantic) and answers one request.
Floor and functions alternate over several rounds; the median is reported.
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._stack import Api, Figure, Stack, agent_definition, expect, make_user, median, ratio, verdict
from tools import localstack
from tools.functions import FUNCTIONS, FunctionSpec

ROUNDS = 3
TARGET = 1.2
LABELS = {
    "auth": "POST /auth/register (Argon2id hash)",
    "agents": "POST /agents",
    "runs": "POST /runs (sync, offline model)",
    "marketplace": "GET /marketplace/listings?q=",
    "worker": "Pub/Sub push of a run request (offline model)",
}

_FLOOR_APP = '''
"""A memory floor: the floor imports and a function answering one request."""
import functions_framework, google.cloud.firestore, jwt, pydantic  # noqa: F401
{extra_imports}


@functions_framework.http
def floor(request):
    {work}
    return {{"ok": True}}
'''
# Floors: the floor, and the floors a function cannot go under whatever its code does:
# an Argon2id hash with the configured parameters (its memory cost is the point of it), and
# pydantic-ai with the Gemini modules for the functions that run agents.
FLOORS: dict[str, tuple[str, str]] = {
    "floor": ("", "pass"),
    "Argon2id floor": (
        "import argon2",
        "argon2.PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, type=argon2.Type.ID)"
        ".hash('correct horse battery')",
    ),
    "runtime floor": (
        "import pydantic_ai, pydantic_ai.models.google, pydantic_ai.providers.google_cloud",
        "pass",
    ),
}
FLOOR_LABELS = {
    "floor": "GET / → {ok}",
    "Argon2id floor": "GET / → one Argon2id hash",
    "runtime floor": "GET / → {ok}, pydantic-ai + Gemini modules imported",
}
APPLICABLE_FLOOR = {"auth": "Argon2id floor", "runs": "runtime floor", "worker": "runtime floor"}


@dataclass
class Probe:
    """One representative first request: method, path, JSON body, bearer token, expected status."""

    method: str
    path: str
    body: Any
    token: str | None
    status: int
    headers: dict[str, str] | None = None
    check: Callable[[], None] | None = None


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def _peak_rss_mib(pid: int) -> float:
    """Peak RSS of the gunicorn worker (the child that served the request), else of ``pid``."""
    pids = [pid, *_children(pid)]
    return max(_vm_hwm_kib(p) for p in pids) / 1024


def _request(port: int, probe: Probe) -> None:
    data = None if probe.body is None else json.dumps(probe.body).encode()
    headers = {"Content-Type": "application/json", **(probe.headers or {})}
    if probe.token:
        headers["Authorization"] = f"Bearer {probe.token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{probe.path}", data=data, method=probe.method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status = response.status
            response.read()
    except urllib.error.HTTPError as error:
        status = error.code
    if status != probe.status:
        raise RuntimeError(f"{probe.method} {probe.path} → {status}, expected {probe.status}")


def _measure(function: FunctionSpec, probe: Probe, env: dict[str, str]) -> float:
    port = localstack.free_port()
    process = localstack.start_function(function, port, env, None)
    try:
        _request(port, probe)
        if probe.check is not None:
            probe.check()
        return _peak_rss_mib(process.proc.pid)
    finally:
        process.stop()


def _probes(stack: Stack) -> dict[str, Callable[[], Probe]]:
    """A fresh representative request per function (made lazily: each needs new data)."""
    agents = Api("agents")
    owner = make_user()

    def agent_id() -> str:
        # Agent names are unique per owner, and the agents probe already took the default one.
        name = f"bench-runs-{localstack.free_port()}"
        response = agents.call("POST", "/agents", token=owner.token, json=agent_definition(name))
        return expect(response, 201).get_json()["id"]

    def register() -> Probe:
        name = f"mem_{localstack.free_port()}_{id(object())}"
        body = {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"}
        return Probe("POST", "/auth/register", body, None, 201)

    probes: dict[str, Callable[[], Probe]] = {
        "auth": register,
        "agents": lambda: Probe(
            "POST", "/agents", agent_definition(f"bench-mem-{localstack.free_port()}"), owner.token, 201
        ),
        "runs": lambda: Probe("POST", "/runs", {"agent_id": agent_id(), "input": "hello"}, owner.token, 200),
        "marketplace": lambda: Probe("GET", "/marketplace/listings?q=bench", None, None, 200),
    }
    probes["worker"] = _worker_probe(agents)
    return probes


def _worker_probe(agents: Api) -> Callable[[], Probe]:
    """A Pub/Sub push of a trusted run request, as the emulator delivers it to the worker."""
    import base64
    import uuid

    def probe() -> Probe:
        owner = make_user()
        owner_id = owner.id
        response = agents.call("POST", "/agents", token=owner.token, json=agent_definition())
        agent_id = expect(response, 201).get_json()["id"]
        data = {
            "agent_id": agent_id,
            "input": "hello",
            "owner_id": owner_id,
            "idempotency_key": uuid.uuid4().hex,
        }
        message = {
            "message": {
                "data": base64.b64encode(json.dumps(data).encode()).decode(),
                "messageId": uuid.uuid4().hex,
                # Now: the worker refuses messages older than RUN_MESSAGE_MAX_AGE_SECONDS.
                "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "attributes": {},
            },
            "subscription": "projects/demo-bench/subscriptions/run-requests-worker-push",
        }

        def check() -> None:
            from shared import db

            runs = db.query(db.collection("runs").where("owner_id", "==", owner_id))
            finished = [r for r in runs if (r.to_dict() or {}).get("status") == "succeeded"]
            if not finished:
                raise RuntimeError("the worker acknowledged the message but no run succeeded")

        return Probe("POST", "/projects/demo-bench/topics/run-requests", message, None, 200, check=check)

    return probe


def _floor_spec(name: str) -> _FloorSpec:
    extra_imports, work = FLOORS[name]
    folder = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    (folder / "main.py").write_text(_FLOOR_APP.format(extra_imports=extra_imports, work=work))
    floor_spec = _FloorSpec()
    floor_spec.path = folder / "main.py"
    return floor_spec


def run(stack: Stack) -> Figure:
    floor_specs = {name: _floor_spec(name) for name in FLOORS}
    probes = _probes(stack)
    by_name = {f.name: f for f in FUNCTIONS}
    peaks: dict[str, list[float]] = {name: [] for name in (*FLOORS, *probes)}
    errors: dict[str, str] = {}
    for _ in range(ROUNDS):
        for name, floor_spec in floor_specs.items():
            peaks[name].append(_measure(floor_spec, Probe("GET", "/", None, None, 200), stack.env))  # type: ignore[arg-type]
        for name, make_probe in probes.items():
            if name in errors:
                continue
            try:
                peaks[name].append(_measure(by_name[name], make_probe(), stack.env))
            except Exception as exc:  # a function still being built: report it, keep going
                errors[name] = f"{type(exc).__name__}: {exc}"
    floors = {name: median(peaks[name]) for name in FLOORS}
    floor = floors["floor"]
    figure = Figure(
        "2. Memory (peak RSS after the first request)",
        [
            "function",
            "first request",
            "peak RSS MiB (median)",
            "ratio to floor",
            "target ≤ 1.2x floor",
            "applicable floor",
            "ratio to it",
        ],
    )
    for name in FLOORS:
        figure.rows.append([name, FLOOR_LABELS[name], f"{floors[name]:.1f}"] + ["—"] * 4)
    for name in probes:
        if name in errors or not peaks[name]:
            figure.rows.append(
                [name, LABELS[name], "error: " + errors.get(name, "no sample")[:100]] + ["—"] * 4
            )
            continue
        peak = median(peaks[name])
        applicable = APPLICABLE_FLOOR.get(name, "floor")
        figure.rows.append(
            [
                name,
                LABELS[name],
                f"{peak:.1f}",
                ratio(peak, floor),
                verdict(peak <= TARGET * floor),
                f"{applicable} ({floors[applicable]:.1f})",
                f"{ratio(peak, floors[applicable])} {verdict(peak <= TARGET * floors[applicable])}",
            ]
        )
    figure.notes.append(
        f"- {ROUNDS} rounds, floors and functions alternating; VmHWM of the gunicorn worker that served the "
        "request (functions-framework's default server, one worker)."
    )
    figure.notes.append(
        "- `auth` hashes the password with Argon2id at 64 MiB memory cost (`ARGON2_MEMORY_COST_KIB`): that "
        "buffer is the security parameter itself, so the Argon2id floor (the floor app doing one such hash) "
        "is the floor that applies. `runs` and `worker` must import pydantic-ai to run an agent; pydantic-ai "
        "alone adds ~33 MiB (it loads `genai_prices` and its price snapshot at import), so the runtime floor "
        "applies to them, as it does for their cold start."
    )
    return figure


class _FloorSpec:
    """Quacks like a FunctionSpec for ``localstack.start_function``."""

    name = "floor"
    entry_point = "floor"
    signature = "http"
    path: Path

    @property
    def source(self) -> Path:
        return self.path
