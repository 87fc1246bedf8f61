"""Test harness: real emulators on free ports, functions served by functions-framework.

One Firestore, Pub/Sub and Firebase Auth emulator per test session (started here, stopped
at the end, in their own process groups); Firestore is wiped before every test and each
test that needs Pub/Sub gets uniquely named topics.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools import localstack
from tools.functions import FUNCTIONS, spec

PROJECT = os.environ.get("TEST_PROJECT", "demo-test")
TEST_JWT_SECRET = "test-secret-" + "x" * 40
# The live stack's webhook deliveries are dead-lettered after this many attempts (100 in
# the cloud), so a test can watch a round run out and the next one start.
LIVE_WEBHOOK_MAX_ATTEMPTS = 5
_ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Under xdist each worker has its own emulators and functions: their logs go apart too.
_LOGS = _ARTIFACTS / os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass
class Emulators:
    firestore: str
    pubsub: str
    auth: str | None


def _base_env(emulators: Emulators, workspace_root: Path) -> dict[str, str]:
    env = {
        "ENVIRONMENT": "test",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": emulators.firestore,
        "PUBSUB_EMULATOR_HOST": emulators.pubsub,
        "JWT_SECRET": TEST_JWT_SECRET,
        "MODEL_BACKEND": "offline",
        "WORKSPACE_ROOT": str(workspace_root),
        "FIREBASE_PROJECT": PROJECT,
        "LOG_LEVEL": "INFO",
        "OTEL_EXPORTER": "none",
    }
    if emulators.auth:
        env["FIREBASE_AUTH_EMULATOR_HOST"] = emulators.auth
    return env


def reset_caches() -> None:
    from shared.clients import reset_clients
    from shared.settings import reset_settings

    reset_settings()
    reset_clients()


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    """Start the emulators (or reuse ones named by TEST_*_EMULATOR_HOST)."""
    log_dir = _LOGS / "emulator-logs"
    started: list[localstack.Process] = []
    try:
        firestore = os.environ.get("TEST_FIRESTORE_EMULATOR_HOST")
        if not firestore:
            port = localstack.free_port()
            started.append(localstack.start_firestore(port, log_dir))
            firestore = f"127.0.0.1:{port}"
        pubsub = os.environ.get("TEST_PUBSUB_EMULATOR_HOST")
        if not pubsub:
            port = localstack.free_port()
            started.append(localstack.start_pubsub(port, PROJECT, log_dir))
            pubsub = f"127.0.0.1:{port}"
        auth = os.environ.get("TEST_FIREBASE_AUTH_EMULATOR_HOST")
        if not auth and os.environ.get("TEST_SKIP_AUTH_EMULATOR") != "1":
            port = localstack.free_port()
            started.append(
                localstack.start_auth(port, localstack.free_port(), localstack.free_port(), PROJECT, log_dir)
            )
            auth = f"127.0.0.1:{port}"
        yield Emulators(firestore, pubsub, auth)
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture(scope="session")
def workspace_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspaces")


@pytest.fixture(scope="session", autouse=True)
def service_env(emulators: Emulators, workspace_root: Path) -> Iterator[dict[str, str]]:
    """The environment the functions see, applied to this process for in-process apps."""
    from pydantic_ai import models

    models.ALLOW_MODEL_REQUESTS = False
    env = _base_env(emulators, workspace_root)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_caches()
    localstack.ensure_topology(PROJECT, localstack.Topology(), worker_url=None)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_caches()


@pytest.fixture(autouse=True)
def clean_state(emulators: Emulators, service_env: dict[str, str], workspace_root: Path) -> None:
    """Every test starts with an empty database, workspace and fresh settings."""
    localstack.wipe_firestore(emulators.firestore, PROJECT)
    if emulators.auth:
        localstack.wipe_auth(emulators.auth, PROJECT)
    for child in workspace_root.iterdir():
        shutil.rmtree(child, ignore_errors=True)
    os.environ.update(service_env)
    reset_caches()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Change settings for one test: ``env(RUN_RATE_LIMIT_PER_MINUTE="2")``."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        reset_caches()

    yield apply  # type: ignore[misc]
    reset_caches()


# Responses of the current test, closed when it ends: a streamed (SSE) response a test left
# unread would otherwise be closed by the garbage collector, which pops its Flask request
# context in the middle of another test's request ("Working outside of request context").
_RESPONSES: list[Any] = []


@pytest.fixture(autouse=True)
def _close_responses() -> Iterator[None]:
    yield
    while _RESPONSES:
        try:
            _RESPONSES.pop().close()
        except ValueError:  # still being read by a thread the test started: that thread's to end
            pass


class ApiClient:
    """A functions-framework app's test client with JSON helpers."""

    def __init__(self, name: str) -> None:
        import functions_framework

        function = spec(name)
        self.function = function
        self.app = functions_framework.create_app(
            target=function.entry_point, source=str(function.source), signature_type=function.signature
        )
        self.client = self.app.test_client()

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, json=json, headers=all_headers, **kwargs)
        _RESPONSES.append(response)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session")
def apps() -> dict[str, ApiClient]:
    return {f.name: ApiClient(f.name) for f in FUNCTIONS if f.signature == "http"}


@pytest.fixture
def auth_api(apps: dict[str, ApiClient]) -> ApiClient:
    return apps["auth"]


@pytest.fixture
def agents_api(apps: dict[str, ApiClient]) -> ApiClient:
    return apps["agents"]


@pytest.fixture
def runs_api(apps: dict[str, ApiClient]) -> ApiClient:
    return apps["runs"]


@pytest.fixture
def marketplace_api(apps: dict[str, ApiClient]) -> ApiClient:
    return apps["marketplace"]


@dataclass
class TestUser:
    __test__ = False  # a fixture value, not a test class

    id: str
    username: str
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user() -> Callable[..., TestUser]:
    """Create a user directly in Firestore and mint an access token for it."""
    from shared.auth.tokens import issue_access_token
    from shared.auth.users import create_user

    def factory(role: str = "user", username: str | None = None) -> TestUser:
        name = username or f"user_{uuid.uuid4().hex[:10]}"
        record = create_user(username=name, email=f"{name}@example.com", password_hash=None, role=role)  # type: ignore[arg-type]
        token, _ = issue_access_token(record.id, record.role, record.username)
        return TestUser(record.id, record.username, record.email, record.role, token)

    return factory


@pytest.fixture
def user(make_user: Callable[..., TestUser]) -> TestUser:
    return make_user()


@pytest.fixture
def other_user(make_user: Callable[..., TestUser]) -> TestUser:
    return make_user()


@pytest.fixture
def admin(make_user: Callable[..., TestUser]) -> TestUser:
    return make_user("admin")


@pytest.fixture
def moderator(make_user: Callable[..., TestUser]) -> TestUser:
    return make_user("moderator")


@pytest.fixture
def pubsub_topology(emulators: Emulators, monkeypatch: pytest.MonkeyPatch) -> localstack.Topology:
    """Uniquely named topics for this test (no push subscription: see the worker fixtures)."""
    suffix = uuid.uuid4().hex[:8]
    topology = localstack.Topology.unique("t", suffix)
    for key, value in topology.env().items():
        monkeypatch.setenv(key, value)
    reset_caches()
    localstack.ensure_topology(PROJECT, topology, worker_url=None)
    return topology


@pytest.fixture
def artifacts_dir() -> Path:
    _ARTIFACTS.mkdir(exist_ok=True)
    return _ARTIFACTS


def pytest_configure(config: pytest.Config) -> None:
    tempfile.tempdir = None
    from tests import query_shapes

    query_shapes.install()


def _xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _xdist_controller(config: pytest.Config) -> bool:
    return not _xdist_worker(config) and getattr(config.option, "numprocesses", None) not in (None, 0)


_UNINDEXED = pytest.StashKey[list[Any]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    missing = config.stash.get(_UNINDEXED, [])
    if missing:
        terminalreporter.section("queries without a declared index", red=True)
        for shape in missing:
            terminalreporter.write_line(f"{shape} (add it to infra/firestore.indexes.json)", red=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Under xdist (``make test``), each worker's query shapes reach the controller."""
    from tests import query_shapes

    query_shapes.OBSERVED |= query_shapes.decode(node.workeroutput.get("query_shapes", []))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import query_shapes

    if _xdist_worker(session.config):
        session.config.workeroutput["query_shapes"] = query_shapes.encode(query_shapes.OBSERVED)  # type: ignore[attr-defined]
    elif _xdist_controller(session.config):
        # The after-all index test cannot run after every worker; the controller checks instead.
        from tests.test_indexes import unindexed_observed_queries

        missing = unindexed_observed_queries()
        if missing:
            session.config.stash[_UNINDEXED] = missing
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


_KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")


def _known_failures() -> dict[str, str]:
    """``node id  # reason`` lines: tests that failed in the last full run after parallel
    merges and are not fixed yet. Each is a non-strict xfail (it still runs and reports)
    until someone fixes it and deletes its line; the file should be empty."""
    known: dict[str, str] = {}
    if _KNOWN_FAILURES.exists():
        for line in _KNOWN_FAILURES.read_text().splitlines():
            node, _, reason = line.partition("#")
            if node.strip():
                known[node.strip()] = reason.strip() or "known failure"
    return known


# The files that take longest (from the durations in CI logs), longest first.
_LONG_FILES = {
    name: rank
    for rank, name in enumerate(
        [
            "test_fuzz.py",
            "test_cli.py",
            "test_lost_instances.py",
            "test_marketplace_scale.py",
            "test_async_faults.py",
            "test_cli_people.py",
            "test_cli_evals.py",
            "test_load.py",
            "test_docs_walkthroughs.py",
            "test_a2a.py",
        ]
    )
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    known = _known_failures()
    for item in items:
        if item.nodeid in known:
            item.add_marker(pytest.mark.xfail(reason=known[item.nodeid], strict=False))
    # Stable sort: the longest files first (xdist hands out whole files in this order, so a
    # long one dealt last would keep one worker busy alone at the end), and tests marked
    # after_all behind everything else.
    items.sort(
        key=lambda item: (
            item.get_closest_marker("after_all") is not None,
            _LONG_FILES.get(item.path.name, len(_LONG_FILES)),
        )
    )


@dataclass
class LiveStack:
    """The functions as real functions-framework processes behind the local gateway."""

    base_url: str
    function_urls: dict[str, str]
    topology: localstack.Topology
    env: dict[str, str]
    processes: dict[str, localstack.Process]

    def restart(self, name: str) -> None:
        function = spec(name)
        port = int(self.function_urls[name].rsplit(":", 1)[1])
        self.processes[name].stop()
        self.processes[name] = localstack.start_function(function, port, self.env, _LOGS / "function-logs")

    @contextlib.contextmanager
    def override_env(self, name: str, **values: str) -> Iterator[None]:
        """Restart function ``name`` with these settings; restore and restart it afterwards."""
        saved = {key: self.env.get(key) for key in values}
        self.env.update(values)
        self.restart(name)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    self.env.pop(key, None)
                else:
                    self.env[key] = value
            self.restart(name)


@pytest.fixture(scope="session")
def live_stack(emulators: Emulators, workspace_root: Path) -> Iterator[LiveStack]:
    import threading

    from tools.gateway import make_gateway

    suffix = uuid.uuid4().hex[:8]
    topology = localstack.Topology.unique("live", suffix)
    ports = {f.name: localstack.free_port() for f in FUNCTIONS}
    env = localstack.service_env(
        project=PROJECT,
        firestore=emulators.firestore,
        pubsub=emulators.pubsub,
        auth=emulators.auth,
        extra={**_base_env(emulators, workspace_root), **topology.env(), "PYTHONUNBUFFERED": "1"},
    )
    os.environ["PUBSUB_EMULATOR_HOST"] = emulators.pubsub
    localstack.ensure_topology(
        PROJECT,
        topology,
        f"http://127.0.0.1:{ports['worker']}",
        dispatcher_url=f"http://127.0.0.1:{ports['dispatcher']}",
        webhook_max_attempts=LIVE_WEBHOOK_MAX_ATTEMPTS,
    )
    processes: dict[str, localstack.Process] = {}
    gateway = None
    try:
        for function in FUNCTIONS:
            processes[function.name] = localstack.start_function(
                function, ports[function.name], env, _LOGS / "function-logs"
            )
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        gateway_port = localstack.free_port()
        gateway = make_gateway("127.0.0.1", gateway_port, urls, quiet=True)
        threading.Thread(target=gateway.serve_forever, daemon=True).start()
        yield LiveStack(f"http://127.0.0.1:{gateway_port}", urls, topology, env, processes)
    finally:
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
        for process in processes.values():
            process.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    # tests/test_fuzz.py: examples per operation and caller (bounded in `make test`; `make fuzz` raises it).
    parser.addoption("--fuzz-examples", type=int, default=5, help="schemathesis examples per operation")
