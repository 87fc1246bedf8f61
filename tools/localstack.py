"""The local Google Cloud stack: Firestore, Pub/Sub and Firebase Auth emulators, the
Pub/Sub topology, and the functions under functions-framework.

Each emulator runs in its own process group so stopping it stops its Java (or Node)
child too. ``make dev`` uses fixed ports (reusing emulators already listening there);
the test suite asks for free ports so several runs can share a machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.functions import FUNCTIONS, ROOT, FunctionSpec, spec

FIREBASE_DIR = ROOT / "tools" / "firebase"
DEV_PORTS = {"firestore": 8681, "pubsub": 8682, "auth": 9099, "auth_hub": 8683, "auth_logging": 8684}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 500
    except OSError:
        return False


def http_answers(url: str, timeout: float = 2.0) -> bool:
    """Any HTTP answer at all (a 404 included): the server's worker is up, not just its port."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_for(
    check: Callable[[], bool], what: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it was ready")
        time.sleep(0.1)
    if proc is not None:  # never leave a half-started child running behind the error
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


@dataclass
class Process:
    """A child started in its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the whole group and return only once none of it is left running.

        The ``gcloud`` wrapper exits on SIGTERM before its Java emulator has shut down,
        so waiting for the leader alone returns while the port still answers.
        """
        pgid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        if not self._wait_group_gone(timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self._wait_group_gone(5)

    def _wait_group_gone(self, timeout: float) -> bool:
        """Wait until no process of the group runs (reaping the leader, our child, meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or _group_running(self.proc.pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def _group_running(pgid: int) -> bool:
    """Whether any non-zombie process is still in process group ``pgid``.

    Zombies are skipped: orphans re-parented to a container's PID 1 may never be reaped.
    """
    proc_root = Path("/proc")
    if not proc_root.is_dir():  # not Linux: a signal probe is the best there is
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc_root.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] not in {"Z", "X"} and int(fields[2]) == pgid:
            return True
    return False


def spawn(
    name: str,
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    cwd: Path | None = None,
) -> Process:
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        out = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    else:
        out = subprocess.DEVNULL
    proc = subprocess.Popen(
        cmd,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
        cwd=cwd or ROOT,
        preexec_fn=_die_with_parent,  # only prctl, before exec
    )
    return Process(name, proc, log_path)


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when whoever started it dies (a killed test run or
    `make dev` must not leave emulators behind). Elsewhere: nothing."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def gcloud() -> str:
    path = shutil.which("gcloud")
    if path is None:
        raise RuntimeError("the Google Cloud SDK (gcloud) is required for the emulators")
    return path


def start_firestore(port: int, log_dir: Path | None) -> Process:
    proc = spawn(
        "firestore-emulator",
        [gcloud(), "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"],
        log_dir=log_dir,
    )
    wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/"), "Firestore emulator", 90, proc.proc)
    return proc


def start_pubsub(port: int, project: str, log_dir: Path | None) -> Process:
    proc = spawn(
        "pubsub-emulator",
        [
            gcloud(),
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--project={project}",
            f"--host-port=127.0.0.1:{port}",
            "--quiet",
        ],
        log_dir=log_dir,
    )
    wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/"), "Pub/Sub emulator", 90, proc.proc)
    return proc


def ensure_firebase_tools() -> Path:
    binary = FIREBASE_DIR / "node_modules" / ".bin" / "firebase"
    if not binary.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FIREBASE_DIR, check=True)
    return binary


def start_auth(port: int, hub_port: int, logging_port: int, project: str, log_dir: Path | None) -> Process:
    binary = ensure_firebase_tools()
    config_dir = Path(tempfile.mkdtemp(prefix="firebase-auth-"))
    (config_dir / "firebase.json").write_text(
        json.dumps(
            {
                "emulators": {
                    "auth": {"host": "127.0.0.1", "port": port},
                    "hub": {"host": "127.0.0.1", "port": hub_port},
                    "logging": {"host": "127.0.0.1", "port": logging_port},
                    "ui": {"enabled": False},
                }
            }
        )
    )
    env = {**os.environ, "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true", "CI": "true"}
    proc = spawn(
        "auth-emulator",
        [str(binary), "emulators:start", "--only", "auth", "--project", project],
        env=env,
        log_dir=log_dir,
        cwd=config_dir,
    )
    wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/"), "Firebase Auth emulator", 120, proc.proc)
    return proc


def wipe_firestore(host: str, project: str) -> None:
    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def wipe_auth(host: str, project: str) -> None:
    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}/accounts", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


@dataclass(frozen=True)
class Topology:
    """Names of the Pub/Sub resources the service uses."""

    run_requests: str = "run-requests"
    run_results: str = "run-results"
    dead_letter: str = "run-requests-dead-letter"
    webhook_deliveries: str = "webhook-deliveries"
    webhook_dead_letter: str = "webhook-deliveries-dead-letter"
    schedule_ticks: str = "schedule-ticks"

    @classmethod
    def unique(cls, prefix: str, suffix: str) -> Topology:
        """Every topic named ``<prefix>-<what>-<suffix>`` (tests sharing one emulator)."""
        return cls(
            *(
                f"{prefix}-{what}-{suffix}"
                for what in ("requests", "results", "dlq", "deliveries", "deliveries-dlq", "ticks")
            )
        )

    @property
    def push_subscription(self) -> str:
        return f"{self.run_requests}-worker-push"

    @property
    def results_subscription(self) -> str:
        return f"{self.run_results}-tap"

    @property
    def results_push_subscription(self) -> str:
        return f"{self.run_results}-worker-push"

    @property
    def dead_letter_subscription(self) -> str:
        return f"{self.dead_letter}-sub"

    def dispatcher_subscription(self, topic: str) -> str:
        return f"{topic}-dispatcher-push"

    def env(self) -> dict[str, str]:
        return {
            "RUN_REQUESTS_TOPIC": self.run_requests,
            "RUN_RESULTS_TOPIC": self.run_results,
            "RUN_DEAD_LETTER_TOPIC": self.dead_letter,
            "WEBHOOK_DELIVERIES_TOPIC": self.webhook_deliveries,
            "WEBHOOK_DEAD_LETTER_TOPIC": self.webhook_dead_letter,
            "SCHEDULE_TICKS_TOPIC": self.schedule_ticks,
        }


def ensure_topology(
    project: str,
    topology: Topology,
    worker_url: str | None,
    max_attempts: int = 5,
    ack_deadline: int = 600,
    dispatcher_url: str | None = None,
    webhook_max_attempts: int = 100,
) -> None:
    """Create topics and subscriptions (idempotent). Needs PUBSUB_EMULATOR_HOST set.

    With ``dispatcher_url``, the dispatcher gets push subscriptions like infra/pubsub.tf's:
    run results, webhook deliveries (retry backoff, dead-lettered after
    ``webhook_max_attempts``), their dead letters and schedule ticks.
    """
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()

    def topic(name: str) -> str:
        path = publisher.topic_path(project, name)
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(request={"name": path})
        return path

    def subscription(name: str, topic_path: str, **extra: object) -> None:
        path = subscriber.subscription_path(project, name)
        with contextlib.suppress(gexc.AlreadyExists):
            subscriber.create_subscription(request={"name": path, "topic": topic_path, **extra})

    requests_topic = topic(topology.run_requests)
    results_topic = topic(topology.run_results)
    dlq_topic = topic(topology.dead_letter)
    deliveries_topic = topic(topology.webhook_deliveries)
    deliveries_dlq_topic = topic(topology.webhook_dead_letter)
    ticks_topic = topic(topology.schedule_ticks)
    subscription(topology.results_subscription, results_topic)
    subscription(topology.dead_letter_subscription, dlq_topic)
    if worker_url:
        subscription(
            topology.push_subscription,
            requests_topic,
            push_config={"push_endpoint": f"{worker_url}/projects/{project}/topics/{topology.run_requests}"},
            ack_deadline_seconds=ack_deadline,
            enable_message_ordering=True,
            dead_letter_policy={"dead_letter_topic": dlq_topic, "max_delivery_attempts": max_attempts},
            retry_policy={"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
        )
        # Finished runs back to the worker too: evals score their cases from them.
        subscription(
            topology.results_push_subscription,
            results_topic,
            push_config={"push_endpoint": f"{worker_url}/projects/{project}/topics/{topology.run_results}"},
            ack_deadline_seconds=ack_deadline,
            retry_policy={"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
        )
    if dispatcher_url:

        def push(name: str, path: str, **extra: object) -> None:
            subscription(
                topology.dispatcher_subscription(name),
                path,
                push_config={"push_endpoint": f"{dispatcher_url}/projects/{project}/topics/{name}"},
                ack_deadline_seconds=60,
                retry_policy={"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
                **extra,
            )

        push(topology.run_results, results_topic)
        push(
            topology.webhook_deliveries,
            deliveries_topic,
            dead_letter_policy={
                "dead_letter_topic": deliveries_dlq_topic,
                "max_delivery_attempts": webhook_max_attempts,
            },
        )
        push(topology.webhook_dead_letter, deliveries_dlq_topic)
        push(topology.schedule_ticks, ticks_topic)


def function_command(function: FunctionSpec, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions_framework",
        f"--target={function.entry_point}",
        f"--source={function.source}",
        f"--signature-type={function.signature}",
        "--host=127.0.0.1",
        f"--port={port}",
    ]


def start_function(function: FunctionSpec, port: int, env: dict[str, str], log_dir: Path | None) -> Process:
    proc = spawn(f"fn-{function.name}", function_command(function, port), env=env, log_dir=log_dir)
    # gunicorn's master binds the port before its worker has imported the function.
    url = f"http://127.0.0.1:{port}/__ready"
    wait_for(lambda: http_answers(url), f"function {function.name}", 60, proc.proc)
    return proc


@dataclass
class Stack:
    processes: list[Process] = field(default_factory=list[Process])

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


class Sweeper:
    """``make dev``'s stand-in for a Cloud Scheduler job: one message to ``topic`` every
    ``interval`` seconds (the sweep on run-requests, the schedule tick on schedule-ticks)."""

    def __init__(
        self, project: str, topic: str, interval: float = 60.0, attributes: dict[str, str] | None = None
    ) -> None:
        import threading

        self.project, self.topic, self.interval = project, topic, interval
        self.attributes = attributes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"timer-{topic}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        from google.cloud import pubsub_v1

        from shared.runs.sweep import SWEEP_ATTRIBUTES

        attributes = SWEEP_ATTRIBUTES if self.attributes is None else self.attributes
        publisher = pubsub_v1.PublisherClient()
        path = publisher.topic_path(self.project, self.topic)
        while not self._stop.wait(self.interval):
            try:  # the message infra/scheduler.tf's (or automation.tf's) job sends
                publisher.publish(path, b"{}", **attributes).result(timeout=10)
            except Exception as exc:  # the emulator may be restarting: try at the next tick
                print(f"timer: could not publish to {self.topic}: {exc}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()


def service_env(
    *, project: str, firestore: str, pubsub: str, auth: str | None, extra: dict[str, str]
) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_EMULATOR_HOST": firestore,
        "PUBSUB_EMULATOR_HOST": pubsub,
        **extra,
    }
    if auth:
        env["FIREBASE_AUTH_EMULATOR_HOST"] = auth
    return env


def dev_secret(path: Path) -> str:
    """A stable local signing key, so tokens survive a restart of ``make dev``."""
    if path.exists():
        return path.read_text().strip()
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


@contextlib.contextmanager
def dev_stack(gateway_port: int = 8080, project: str = "demo-agents") -> Iterator[Stack]:
    stack = Stack()
    data = ROOT / ".data"
    log_dir = data / "logs"
    try:
        ports = DEV_PORTS
        if port_open(ports["firestore"]):
            print(f"reusing the Firestore emulator on 127.0.0.1:{ports['firestore']}")
        else:
            stack.processes.append(start_firestore(ports["firestore"], log_dir))
        if port_open(ports["pubsub"]):
            print(f"reusing the Pub/Sub emulator on 127.0.0.1:{ports['pubsub']}")
        else:
            stack.processes.append(start_pubsub(ports["pubsub"], project, log_dir))
        if port_open(ports["auth"]):
            print(f"reusing the Firebase Auth emulator on 127.0.0.1:{ports['auth']}")
        else:
            stack.processes.append(
                start_auth(ports["auth"], ports["auth_hub"], ports["auth_logging"], project, log_dir)
            )
        firestore = f"127.0.0.1:{ports['firestore']}"
        pubsub = f"127.0.0.1:{ports['pubsub']}"
        auth = f"127.0.0.1:{ports['auth']}"
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub
        ensure_topology(
            project,
            Topology(),
            f"http://127.0.0.1:{spec('worker').dev_port}",
            dispatcher_url=f"http://127.0.0.1:{spec('dispatcher').dev_port}",
        )
        env = service_env(
            project=project,
            firestore=firestore,
            pubsub=pubsub,
            auth=auth,
            extra={
                "ENVIRONMENT": "local",
                "MODEL_BACKEND": os.environ.get("MODEL_BACKEND", "offline"),
                "JWT_SECRET": os.environ.get("JWT_SECRET") or dev_secret(data / "jwt-secret"),
                "WORKSPACE_ROOT": os.environ.get("WORKSPACE_ROOT", str(data / "workspaces")),
                "FIREBASE_PROJECT": project,
                "PYTHONUNBUFFERED": "1",
            },
        )
        for function in FUNCTIONS:
            if port_open(function.dev_port):
                raise RuntimeError(f"port {function.dev_port} (function {function.name}) is already in use")
            stack.processes.append(start_function(function, function.dev_port, env, log_dir))
        sweeper = Sweeper(
            project, Topology().run_requests, float(os.environ.get("SWEEP_INTERVAL_SECONDS", "60"))
        )
        sweeper.start()
        # Schedules: the minute tick infra/automation.tf's Cloud Scheduler job sends.
        ticker = Sweeper(
            project,
            Topology().schedule_ticks,
            float(os.environ.get("SCHEDULE_TICK_SECONDS", "60")),
            attributes={"kind": "schedule_tick"},
        )
        ticker.start()
        try:
            yield stack
        finally:
            ticker.stop()
            sweeper.stop()
    finally:
        stack.stop()


def main() -> None:
    from tools.functions import HTTP_FUNCTIONS
    from tools.gateway import make_gateway

    port = int(os.environ.get("PORT", "8080"))
    if port_open(port):
        raise SystemExit(f"port {port} is already in use: stop what listens there or set PORT")
    with dev_stack(port) as _stack:
        upstreams = {f.name: f"http://127.0.0.1:{f.dev_port}" for f in HTTP_FUNCTIONS}
        server = make_gateway("127.0.0.1", port, upstreams)
        print("\nagents service running (offline model backend)")
        print(f"  gateway      http://127.0.0.1:{port}   (web console at /, OpenAPI at /openapi.json)")
        for f in FUNCTIONS:
            print(f"  {f.name:<12} http://127.0.0.1:{f.dev_port}")
        print(
            f"  emulators    firestore 127.0.0.1:{DEV_PORTS['firestore']}"
            f"  pubsub 127.0.0.1:{DEV_PORTS['pubsub']}"
            f"  firebase-auth 127.0.0.1:{DEV_PORTS['auth']}"
        )
        print("  logs         .data/logs/   Ctrl-C stops everything\n", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopping ...")
        finally:
            server.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Explicit handlers: a shell may start background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    main()
