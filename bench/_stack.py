"""What every benchmark shares: its own emulators on free ports, the service environment,
in-process functions-framework clients, users and agents, and the statistics.

``make bench`` must not depend on anything already running (nor disturb it), so it starts
a Firestore and a Pub/Sub emulator of its own with :mod:`tools.localstack`.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import localstack
from tools.functions import ROOT, spec

PROJECT = "demo-bench"
JWT_SECRET = "bench-secret-" + "x" * 40
LOG_DIR = ROOT / ".data" / "bench-logs"


@dataclass
class Stack:
    firestore: str
    pubsub: str
    env: dict[str, str]
    workspace: Path
    processes: list[localstack.Process] = field(default_factory=list[localstack.Process])

    def wipe(self) -> None:
        localstack.wipe_firestore(self.firestore, PROJECT)


def service_env(firestore: str, pubsub: str, workspace: Path) -> dict[str, str]:
    """The environment a deployed function would see (emulators instead of Google)."""
    return {
        "ENVIRONMENT": "test",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": firestore,
        "PUBSUB_EMULATOR_HOST": pubsub,
        "JWT_SECRET": JWT_SECRET,
        "MODEL_BACKEND": "offline",
        "WORKSPACE_ROOT": str(workspace),
        "FIREBASE_PROJECT": PROJECT,
        "LOG_LEVEL": "WARNING",
        "OTEL_EXPORTER": "none",
        # The per-user run quota would throttle the 300-run async benchmark (one user).
        "RUN_RATE_LIMIT_PER_MINUTE": "1000000",
        "PYTHONPATH": str(ROOT),
    }


@contextlib.contextmanager
def emulators() -> Iterator[Stack]:
    """Start Firestore and Pub/Sub emulators on free ports and point this process at them."""
    processes: list[localstack.Process] = []
    saved = dict(os.environ)
    try:
        fs_port = localstack.free_port()
        processes.append(localstack.start_firestore(fs_port, LOG_DIR))
        ps_port = localstack.free_port()
        processes.append(localstack.start_pubsub(ps_port, PROJECT, LOG_DIR))
        workspace = Path(tempfile.mkdtemp(prefix="bench-workspace-"))
        env = service_env(f"127.0.0.1:{fs_port}", f"127.0.0.1:{ps_port}", workspace)
        os.environ.update(env)
        reset_caches()
        from pydantic_ai import models

        models.ALLOW_MODEL_REQUESTS = False
        localstack.ensure_topology(PROJECT, localstack.Topology(), worker_url=None)
        yield Stack(env["FIRESTORE_EMULATOR_HOST"], env["PUBSUB_EMULATOR_HOST"], env, workspace, processes)
    finally:
        for process in reversed(processes):
            process.stop()
        os.environ.clear()
        os.environ.update(saved)


def reset_caches() -> None:
    from shared.clients import reset_clients
    from shared.settings import reset_settings

    reset_settings()
    reset_clients()


class Api:
    """A function served in this process by functions-framework (its Flask app)."""

    def __init__(self, name: str) -> None:
        import functions_framework

        function = spec(name)
        self.app: Any = functions_framework.create_app(
            target=function.entry_point, source=str(function.source), signature_type=function.signature
        )
        self.client = self.app.test_client()

    def call(
        self, method: str, path: str, *, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, json=json, headers=headers, **kwargs)


def expect(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.path} → {response.status_code}: "
            f"{response.get_data(as_text=True)[:300]}"
        )
    return response


def cost(response: Any) -> tuple[int, int]:
    return int(response.headers["X-Firestore-Reads"]), int(response.headers["X-Firestore-Writes"])


@dataclass
class User:
    id: str
    token: str


def make_user(role: str = "user") -> User:
    from shared.auth.tokens import issue_access_token
    from shared.auth.users import create_user

    name = f"bench_{uuid.uuid4().hex[:10]}"
    record = create_user(username=name, email=f"{name}@example.com", password_hash=None, role=role)  # type: ignore[arg-type]
    token, _ = issue_access_token(record.id, record.role, record.username)
    return User(record.id, token)


def agent_definition(name: str = "bench-agent", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "display_name": "Bench agent",
        "description": "Answers briefly for the benchmarks",
        "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
        "system_prompt": "You answer briefly.",
        "tools": [],
        "limits": {"max_requests": 5, "max_tool_calls": 5, "max_cost_usd": 0.5},
    }
    body.update(overrides)
    return body


# -- statistics ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleaved(
    subjects: dict[str, Callable[[], object]], rounds: int, *, warmup: int = 3
) -> dict[str, list[float]]:
    """Time each callable ``rounds`` times, alternating between them (seconds per call).

    Alternating means a burst of load from elsewhere on the machine hits floor and subject
    alike, so their ratio stays meaningful when absolute timings are noisy.
    """
    for _ in range(warmup):
        for fn in subjects.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, fn in subjects.items():
            started = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - started)
    return samples


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def ratio(subject: float, floor: float) -> str:
    return f"{subject / floor:.2f}x" if floor > 0 else "n/a"


@dataclass
class Figure:
    """One section of RESULTS.md: a heading, a table and notes."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list[list[str]])
    notes: list[str] = field(default_factory=list[str])
    seconds: float = 0.0

    def markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(self.columns) + " |")
            lines.append("|" + "---|" * len(self.columns))
            lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
            lines.append("")
        lines.extend(self.notes)
        if self.notes:
            lines.append("")
        return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "✅" if ok else "❌"
