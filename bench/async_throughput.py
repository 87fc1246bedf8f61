"""Figure 5 — async throughput: 300 async runs through Pub/Sub and the worker.

The service: ``POST /runs`` (``mode: async``, offline model) from ``CLIENTS`` concurrent
HTTP clients to the runs function, a real functions-framework process (gunicorn), which
publishes each run to a run-requests topic whose push subscription delivers to the worker,
another such process. Enqueue → finished is the run record's ``finished_at`` minus the
wall-clock time just before the POST. (The floor publishes all its messages at once, so a
single sequential client would measure one client's request latency, not the service.)

The floor: the same number of messages published to a topic on the same emulator whose
push subscription delivers to a trivial functions-framework CloudEvent function that acks
at once (recording the time it got each message), measured the same way.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench._stack import (
    PROJECT,
    Api,
    Figure,
    Stack,
    agent_definition,
    expect,
    make_user,
    percentile,
    reset_caches,
    verdict,
)
from tools import localstack
from tools.functions import spec

RUNS = 300
CLIENTS = 8
SLOW_HANDLER_SECONDS = 0.03
TARGET = 0.5
TIMEOUT = 240.0

_NOOP_APP = """
import json, os, time
import functions_framework

LOG = os.environ["BENCH_NOOP_LOG"]
SLEEP = float(os.environ.get("BENCH_NOOP_SLEEP", "0"))


@functions_framework.cloud_event
def noop(event):
    got = time.time()
    if SLEEP:
        time.sleep(SLEEP)
    with open(LOG, "a") as out:
        entry = {"id": event.data["message"]["attributes"]["n"], "t": got, "done": time.time()}
        out.write(json.dumps(entry) + "\\n")
"""


class _NoopSpec:
    name = "noop"
    entry_point = "noop"
    signature = "cloudevent"
    path: Path

    @property
    def source(self) -> Path:
        return self.path


def _floor(stack: Stack, *, messages: int = RUNS, sleep: float = 0.0) -> tuple[float, list[float], int]:
    """(messages per second, latencies, most pushes in flight at once) of the no-op push function
    (which sleeps ``sleep`` seconds per message, to show the emulator's push concurrency)."""
    from google.cloud import pubsub_v1

    folder = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    (folder / "main.py").write_text(_NOOP_APP)
    log = folder / "received.jsonl"
    noop = _NoopSpec()
    noop.path = folder / "main.py"
    port = localstack.free_port()
    topology = localstack.Topology(*(f"bench-noop-{uuid.uuid4().hex[:8]}-{k}" for k in ("req", "res", "dlq")))
    env = {**stack.env, "BENCH_NOOP_LOG": str(log), "BENCH_NOOP_SLEEP": str(sleep)}
    process = localstack.start_function(noop, port, env, None)  # type: ignore[arg-type]
    try:
        localstack.ensure_topology(PROJECT, topology, f"http://127.0.0.1:{port}")
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, topology.run_requests)
        sent: dict[str, float] = {}
        futures = []
        for n in range(messages):
            sent[str(n)] = time.time()
            futures.append(publisher.publish(topic, b"{}", n=str(n)))
        for future in futures:
            future.result(timeout=60)
        received = _wait_for_lines(log, messages)
        in_flight = _most_in_flight(log)
    finally:
        process.stop()
    first = min(sent.values())
    last = max(received.values())
    latencies = [received[n] - sent[n] for n in received]
    return len(received) / (last - first), latencies, in_flight


def _most_in_flight(log: Path) -> int:
    """The most deliveries the emulator had outstanding at once (handler entry → exit).

    With a handler that takes a while, this is the emulator's push concurrency.
    """
    edges: list[tuple[float, int]] = []
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        edges += [(entry["t"], 1), (entry["done"], -1)]
    current = most = 0
    for _, step in sorted(edges):
        current += step
        most = max(most, current)
    return most


def _wait_for_lines(log: Path, count: int) -> dict[str, float]:
    deadline = time.monotonic() + TIMEOUT
    received: dict[str, float] = {}
    while time.monotonic() < deadline:
        if log.exists():
            received = {}
            for line in log.read_text().splitlines():
                entry = json.loads(line)
                received.setdefault(entry["id"], entry["t"])  # at-least-once: keep the first
            if len(received) >= count:
                return received
        time.sleep(0.2)
    raise TimeoutError(f"the no-op function got {len(received)} of {count} messages")


def _service(stack: Stack) -> tuple[float, list[float], int, float]:
    """(runs per second, latencies, failed runs, enqueue rate) through the runs function and the worker."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from shared import db

    worker_port, runs_port = localstack.free_port(), localstack.free_port()
    topology = localstack.Topology(*(f"bench-runs-{uuid.uuid4().hex[:8]}-{k}" for k in ("req", "res", "dlq")))
    saved = {k: os.environ.get(k) for k in topology.env()}
    os.environ.update(topology.env())
    reset_caches()
    env = {**stack.env, **topology.env()}
    processes = [
        localstack.start_function(spec("worker"), worker_port, env, None),
        localstack.start_function(spec("runs"), runs_port, env, None),
    ]
    try:
        localstack.ensure_topology(PROJECT, topology, f"http://127.0.0.1:{worker_port}")
        agents = Api("agents")
        user = make_user()
        response = agents.call("POST", "/agents", token=user.token, json=agent_definition())
        agent_id = expect(response, 201).get_json()["id"]
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{runs_port}",
            headers={"Authorization": f"Bearer {user.token}"},
            limits=httpx.Limits(max_connections=CLIENTS),
            timeout=60,
        )

        def enqueue(n: int) -> tuple[str, float]:
            before = time.time()
            body = {"agent_id": agent_id, "input": f"hello {n}", "mode": "async"}
            reply = client.post("/runs", json=body)
            if reply.status_code != 202:
                raise RuntimeError(f"POST /runs → {reply.status_code}: {reply.text[:300]}")
            return reply.json()["id"], before

        enqueue(-1)  # warm the runs process (imports, clients) outside the measurement
        enqueue_started = time.time()
        with ThreadPoolExecutor(CLIENTS) as pool:
            enqueued = dict(pool.map(enqueue, range(RUNS)))
        enqueue_seconds = time.time() - enqueue_started
        client.close()
        finished = _wait_for_runs(db, list(enqueued))
    finally:
        for process in processes:
            process.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_caches()
    first = min(enqueued.values())
    last = max(t for t, _ in finished.values())
    latencies = [finished[run_id][0] - enqueued[run_id] for run_id in finished]
    failed = sum(1 for _, status in finished.values() if status != "succeeded")
    return len(finished) / (last - first), latencies, failed, RUNS / enqueue_seconds


def _firestore_floor(threads: int) -> float:
    """Runs per second the emulator sustains for the bare Firestore work of one async run.

    The same operations the service makes per run, done bare from ``threads`` threads (the
    emulator's push concurrency, so this is what the worker could reach at best):
    enqueue (caller and agent gets, the rate-limit increment, the run create) and the worker
    (the claim transaction, one events commit of three documents, the final update).
    """
    from concurrent.futures import ThreadPoolExecutor

    from shared import db

    scratch = db.collection("bench_async_floor")
    user_ref, agent_ref = scratch.document("user"), scratch.document("agent")
    db.set(user_ref, {"name": "bench"})
    db.set(agent_ref, {"name": "bench"})

    def one_run(n: int) -> None:
        db.get(user_ref)
        db.get(agent_ref)
        db.increment_and_get(scratch.document(f"quota-{n % 4}"), "count", 1, {"scope": "bench"})
        ref = scratch.document(uuid.uuid4().hex)
        db.create(ref, {"status": "queued", "n": n})

        def claim(tx: db.Tx) -> None:
            tx.get(ref)
            tx.update(ref, {"status": "running"})

        db.run_transaction(claim)
        events = ref.collection("events")

        def write_events(batch: db.CountingWrites) -> None:
            for seq in range(1, 4):
                batch.set(events.document(str(seq)), {"seq": seq, "type": "event"})

        db.commit_batch(write_events)
        db.update(ref, {"status": "succeeded"})

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one_run, range(RUNS)))
    return RUNS / (time.perf_counter() - started)


def _wait_for_runs(db: Any, run_ids: list[str]) -> dict[str, tuple[float, str]]:
    deadline = time.monotonic() + TIMEOUT
    done: dict[str, tuple[float, str]] = {}
    while time.monotonic() < deadline:
        pending = [r for r in run_ids if r not in done]
        for start in range(0, len(pending), 100):
            refs = [db.collection("runs").document(r) for r in pending[start : start + 100]]
            for snap in db.get_all(refs):
                data = snap.to_dict() or {}
                if data.get("status") in ("succeeded", "failed", "cancelled") and data.get("finished_at"):
                    done[snap.id] = (data["finished_at"].timestamp(), str(data["status"]))
        if len(done) == len(run_ids):
            return done
        time.sleep(0.5)
    raise TimeoutError(f"{len(done)} of {len(run_ids)} async runs finished in {TIMEOUT:.0f} s")


def run(stack: Stack) -> Figure:
    floor_rate, floor_latencies, _ = _floor(stack)
    slow_rate, _, push_limit = _floor(stack, messages=100, sleep=SLOW_HANDLER_SECONDS)
    firestore_rate = _firestore_floor(max(1, push_limit))
    rate, latencies, failed, enqueue_rate = _service(stack)
    figure = Figure(
        f"5. Async throughput ({RUNS} runs through Pub/Sub push)",
        ["subject", "per second", "p50 enqueue→finished ms", "p95 ms", "ratio to floor", "target"],
    )
    figure.rows.append(
        [
            "floor: no-op push function",
            f"{floor_rate:.1f}",
            f"{percentile(floor_latencies, 50) * 1000:.0f}",
            f"{percentile(floor_latencies, 95) * 1000:.0f}",
            "—",
            "—",
        ]
    )
    figure.rows.append(
        [
            "async runs (runs → Pub/Sub → worker, offline model)",
            f"{rate:.1f}",
            f"{percentile(latencies, 50) * 1000:.0f}",
            f"{percentile(latencies, 95) * 1000:.0f}",
            f"{rate / floor_rate:.2f}x",
            f"≥ {TARGET}x {verdict(rate >= TARGET * floor_rate)}",
        ]
    )
    worker_ms = push_limit / rate * 1000 if rate > 0 else float("nan")
    budget_ms = push_limit / (TARGET * floor_rate) * 1000
    figure.rows.append(
        [
            f"push function sleeping {SLOW_HANDLER_SECONDS * 1000:.0f} ms per message",
            f"{slow_rate:.1f}",
            "—",
            "—",
            f"{slow_rate / floor_rate:.2f}x",
            "—",
        ]
    )
    figure.rows.append(
        [
            f"bare Firestore work of a run, {push_limit} at a time (no Pub/Sub, no agent)",
            f"{firestore_rate:.1f}",
            "—",
            "—",
            f"{firestore_rate / floor_rate:.2f}x",
            "—",
        ]
    )
    figure.notes.append(
        f"- Why the target is out of reach on the emulator: it pushes at most {push_limit} messages at a "
        f"time to a push endpoint (most in flight with the {SLOW_HANDLER_SECONDS * 1000:.0f} ms handler, "
        f"whatever the endpoint's threads), so push throughput is about {push_limit} / handler time. The "
        f"no-op floor acks in about a millisecond; 0.5x of it would need a whole run in "
        f"~{budget_ms:.0f} ms ({TARGET * floor_rate:.0f} runs/s). The bare Firestore work of a run "
        f"alone, {push_limit} at a time, reaches {firestore_rate:.0f} runs/s on this emulator (last row)"
        + (
            ": the target lies above that ceiling, whatever the service does"
            if firestore_rate < TARGET * floor_rate
            else ""
        )
        + "; the service reaches "
        f"{rate / firestore_rate:.2f}x of the ceiling (~{worker_ms:.0f} ms per run "
        "in the worker, including the agent run and the result publish). Real Pub/Sub push raises its "
        "concurrency with the endpoint's success rate and Cloud Run adds instances, so in the cloud the "
        "rate scales with instances instead."
    )
    figure.notes.append(
        f"- Enqueue alone (`POST /runs` async from {CLIENTS} concurrent HTTP clients to the runs function "
        f"process): {enqueue_rate:.1f} runs/s; the end-to-end rate is bounded by the slower of enqueue and "
        "the worker. Per run the worker makes 1 claim transaction (read + write), reads the pinned agent "
        "version once per instance (versions are immutable, cached), writes the events in one or two "
        "commits and the final update, and publishes the result; a first attempt skips the event-sequence "
        "lookup and the first cancel check."
    )
    figure.notes.append(
        f"- Runs that did not succeed: {failed}. All push endpoints are functions-framework's gunicorn "
        "server (one worker process, its default threads) behind the Pub/Sub emulator's push delivery."
    )
    return figure
