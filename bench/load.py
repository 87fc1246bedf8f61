"""Figure 8 — the whole local stack under mixed load (tools/loadtest.py, larger than the test).

Every function runs as its own functions-framework process behind the local gateway, the
worker takes Pub/Sub pushes from the emulator, and USERS concurrent users run the realistic
mix for SECONDS. Reported: throughput and p50/p99 per operation, then the same correctness
checks as tests/test_load.py (5xx, lost, unfinished). There is no floor: this figure is the
service's absolute capacity on this machine, for comparison between runs.
"""

from __future__ import annotations

import os
import threading
import uuid

from bench._stack import PROJECT, Figure, Stack, percentile, reset_caches
from tools import localstack
from tools.functions import FUNCTIONS
from tools.gateway import make_gateway
from tools.loadtest import run_load

USERS = 16
SECONDS = 30


def run(stack: Stack) -> Figure:
    topology = localstack.Topology(*(f"bench-load-{uuid.uuid4().hex[:8]}-{k}" for k in ("req", "res", "dlq")))
    saved = {k: os.environ.get(k) for k in topology.env()}
    os.environ.update(topology.env())
    reset_caches()
    env = {**stack.env, **topology.env()}
    ports = {f.name: localstack.free_port() for f in FUNCTIONS}
    processes = [localstack.start_function(f, ports[f.name], env, None) for f in FUNCTIONS]
    gateway = None
    try:
        localstack.ensure_topology(PROJECT, topology, f"http://127.0.0.1:{ports['worker']}")
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        gateway_port = localstack.free_port()
        gateway = make_gateway("127.0.0.1", gateway_port, urls, quiet=True)
        threading.Thread(target=gateway.serve_forever, daemon=True).start()
        report = run_load(
            f"http://127.0.0.1:{gateway_port}", users=USERS, seconds=SECONDS, verify_timeout=300
        )
    finally:
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
        for process in processes:
            process.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_caches()

    ledger = report.ledger
    elapsed = ledger.finished - ledger.started[0] if ledger.started else report.seconds
    figure = Figure(
        f"8. Load: {USERS} users x {SECONDS} s of mixed traffic through the gateway",
        ["operation", "requests", "per second", "p50 ms", "p99 ms", "statuses"],
    )
    for op in sorted(ledger.samples, key=lambda name: -len(ledger.samples[name])):
        samples = ledger.samples[op]
        statuses = ", ".join(f"{code}x{n}" for code, n in sorted(ledger.statuses[op].items()))
        figure.rows.append(
            [
                op,
                str(len(samples)),
                f"{len(samples) / elapsed:.1f}",
                f"{percentile(samples, 50) * 1000:.0f}",
                f"{percentile(samples, 99) * 1000:.0f}",
                statuses,
            ]
        )
    total = report.operations
    runs_given = len(ledger.runs)
    figure.notes.append(
        f"- {total} requests in {elapsed:.1f} s ({total / elapsed:.1f}/s) from {USERS} users; the timed "
        "phase starts once every user has registered, logged in and created an agent, a session and "
        "(every other user) a listing. Each user's first round runs every operation once, then picks by "
        "weight "
        "(`tools/loadtest.MIX`)."
    )
    figure.notes.append(
        f"- Correctness afterwards: {len(ledger.server_errors)} 5xx; {runs_given} runs given to clients plus "
        f"the runs of {len(ledger.batches)} batches — finished: {dict(report.run_statuses)}; lost: "
        f"{len(report.lost)}; unfinished after the wait: {len(report.unfinished)}; unexpected 4xx: "
        f"{len(ledger.problems)}; {len(ledger.sessions)} sessions and {len(ledger.files)} workspace files "
        f"checked (verification took {report.verify_seconds:.1f} s, async and batch runs draining through "
        "the emulator's push, 2 at a time)."
    )
    for line in (ledger.server_errors + report.lost + report.unfinished + ledger.problems)[:10]:
        figure.notes.append(f"  - {line}")
    figure.notes.append(
        "- Latency is the whole stack on one 2-core machine shared with the emulators and the load generator "
        "(sync/stream runs use the offline model, so their time is the service's own work plus Firestore)."
    )
    return figure
