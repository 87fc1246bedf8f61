"""Figure 10 — what a run costs us in infrastructure, beside what its model call costs.

Measured per run, for each mode, on the functions served in this process (offline model):

- Firestore document reads and writes (``shared.db.measure()``, the counter behind the
  ``X-Firestore-*`` headers), for async runs the enqueue request plus the worker's delivery;
- Pub/Sub messages published (run request, run result), counted at the publisher;
- the service's own time per run (wall time of the request, or of the worker's delivery).

Turned into dollars at Google's list prices (constants below, us-central1, first pricing
tier, free tiers ignored): instance time is the service time plus the model's answer time
(MODEL_SECONDS, an assumption: a Gemini Flash answer of ~500 tokens), shared by the runs an
instance serves at once at the concurrency infra/main.tf sets (read from it), and also
shown unshared (one run per instance, the worst case). Model cost: the catalog's Gemini 2.5
Flash prices (shared/agents/models.json) for ~2,000 input and 500 output tokens.
Target: infrastructure ≤ 2% of the model cost.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench._stack import PROJECT, Api, Figure, Stack, agent_definition, expect, make_user, median, verdict
from tools import localstack
from tools.functions import ROOT, spec

SAMPLES = 5
TARGET = 0.02
MODEL_SECONDS = 4.0  # assumed Gemini Flash latency for ~500 output tokens (time to first token + output)
INPUT_TOKENS, OUTPUT_TOKENS = 2000, 500

# Google list prices (USD), us-central1, first tier.
FIRESTORE_READ = 0.03 / 100_000  # Firestore Standard, regional us-central1: $0.03 per 100k reads
FIRESTORE_WRITE = 0.09 / 100_000  # $0.09 per 100k writes
PUBSUB_PER_BYTE = 40 / 1024**4  # $40 per TiB of throughput ...
PUBSUB_MIN_BYTES = 1000  # ... each publish and each delivery billed at least 1,000 bytes
CPU_SECOND = 0.000024  # Cloud Run (functions 2nd gen), request-based billing, per vCPU-second
GIB_SECOND = 0.0000025  # per GiB-second
REQUEST = 0.40 / 1_000_000  # per request


@functools.cache  # read once: every mode's dollars use it
def _instances() -> dict[str, tuple[float, float, int]]:
    """(vCPU, GiB, concurrency) of runs and worker, as infra/main.tf's local.functions sets them."""
    import hcl2

    document = hcl2.loads((ROOT / "infra" / "main.tf").read_text())
    functions: dict[str, Any] = next(b["functions"] for b in document["locals"] if "functions" in b)

    def plain(value: Any) -> str:
        return str(value).strip('"')

    def gib(memory: str) -> float:
        return float(memory[:-2]) / 1024 if memory.endswith("Mi") else float(memory.removesuffix("Gi"))

    return {
        name: (float(plain(f["cpu"])), gib(plain(f["memory"])), int(plain(f["concurrency"])))
        for name, f in ((n, functions[n]) for n in ("runs", "worker"))
    }


class _CountingPublisher:
    """Wraps the Pub/Sub publisher client: counts messages and their bytes."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.messages, self.bytes = inner, 0, 0

    def publish(self, topic: str, data: bytes, **kwargs: Any) -> Any:
        self.messages += 1
        self.bytes += len(data)
        return self.inner.publish(topic, data, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _model_cost() -> float:
    from shared.agents.catalog import find_model

    flash = find_model("vertex-gemini", "gemini-2.5-flash")
    if flash is None:
        raise RuntimeError("gemini-2.5-flash is not in the model catalog")
    return flash.cost_usd(INPUT_TOKENS, OUTPUT_TOKENS)  # today's catalog prices


def _settled_totals() -> tuple[int, int]:
    """Firestore totals once work the response did not wait for (if any) has landed."""
    from shared import db

    time.sleep(0.3)
    return db.PROCESS_TOTALS.snapshot()


def _measure(
    mode: str, runs: Api, worker: Any, token: str, agent_id: str, counter: _CountingPublisher
) -> dict[str, float]:
    from shared import db

    body = {"agent_id": agent_id, "input": "hello", "mode": mode}
    before = counter.messages, counter.bytes
    # Process-wide totals: the service does part of a run's Firestore work on helper threads
    # and its event loop, outside the request's own counter. Nothing else runs here meanwhile.
    reads_before, writes_before = db.PROCESS_TOTALS.snapshot()
    started = time.perf_counter()
    response = runs.call("POST", "/runs", token=token, json=body)
    response.get_data()  # a stream runs to its end here
    service = time.perf_counter() - started
    if mode == "async":
        run_id = expect(response, 202).get_json()["id"]
        push = {
            "message": {
                "data": base64.b64encode(json.dumps({"run_id": run_id}).encode()).decode(),
                "attributes": {"run_id": run_id},
                "messageId": f"cost-{run_id}",
                "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            },
            "subscription": f"projects/{PROJECT}/subscriptions/cost",
        }
        topic = localstack.Topology().run_requests
        started = time.perf_counter()
        reply = worker.post(f"/projects/{PROJECT}/topics/{topic}", json=push)
        worker_seconds = time.perf_counter() - started
        assert reply.status_code in (200, 204), reply.get_data(as_text=True)
        reads_after, writes_after = _settled_totals()
        status = expect(runs.call("GET", f"/runs/{run_id}", token=token)).get_json()["status"]
    else:
        reads_after, writes_after = _settled_totals()
        worker_seconds = 0.0
        status = "succeeded" if response.status_code == 200 and b"failed" not in response.get_data() else "?"
    if status != "succeeded":
        raise RuntimeError(f"{mode} run did not succeed: {response.get_data(as_text=True)[:300]}")
    return {
        "reads": reads_after - reads_before,
        "writes": writes_after - writes_before,
        "messages": counter.messages - before[0],
        "bytes": counter.bytes - before[1],
        "runs_seconds": service,
        "worker_seconds": worker_seconds,
    }


def _dollars(m: dict[str, float], shared: bool) -> dict[str, float]:
    firestore = m["reads"] * FIRESTORE_READ + m["writes"] * FIRESTORE_WRITE
    # Every message is published once and delivered once (worker push, or the results tap).
    per_message = max(PUBSUB_MIN_BYTES, m["bytes"] / max(m["messages"], 1))
    pubsub = 2 * m["messages"] * per_message * PUBSUB_PER_BYTE
    instance = 0.0
    instances = _instances()
    for function, seconds, requests in (
        ("runs", m["runs_seconds"], 1),
        ("worker", m["worker_seconds"], 1 if m["worker_seconds"] else 0),
    ):
        if not requests:
            continue
        cpu, gib, concurrency = instances[function]
        # The model's answer time is spent in the runs request (sync/stream) or the worker (async).
        busy = seconds + (MODEL_SECONDS if (function == "worker") == bool(m["worker_seconds"]) else 0.0)
        share = busy / (concurrency if shared else 1)
        instance += share * (cpu * CPU_SECOND + gib * GIB_SECOND) + requests * REQUEST
    return {"firestore": firestore, "pubsub": pubsub, "instance": instance}


def run(stack: Stack) -> Figure:
    import functions_framework

    from shared.runs import queue

    agents, runs = Api("agents"), Api("runs")
    worker_spec = spec("worker")
    worker_app: Any = functions_framework.create_app(
        target=worker_spec.entry_point, source=str(worker_spec.source), signature_type=worker_spec.signature
    )
    worker = worker_app.test_client()
    user = make_user()
    agent_id = expect(
        agents.call("POST", "/agents", token=user.token, json=agent_definition()), 201
    ).get_json()["id"]
    original = queue._publisher  # pyright: ignore[reportPrivateUsage]
    counter = _CountingPublisher(original())
    queue._publisher = lambda: counter  # pyright: ignore[reportPrivateUsage]
    try:
        measured: dict[str, list[dict[str, float]]] = {mode: [] for mode in ("sync", "stream", "async")}
        for mode in measured:  # one unmeasured run per mode: caches, first RPCs
            _measure(mode, runs, worker, user.token, agent_id, counter)
        for _ in range(SAMPLES):
            for mode in measured:
                measured[mode].append(_measure(mode, runs, worker, user.token, agent_id, counter))
    finally:
        queue._publisher = original  # pyright: ignore[reportPrivateUsage]
    model = _model_cost()
    instances = _instances()
    figure = Figure(
        "10. Infrastructure cost per 1,000 runs beside the model's",
        [
            "mode",
            "Firestore reads / writes per run",
            "Pub/Sub messages per run",
            "service ms per run (median)",
            "Firestore $",
            "Pub/Sub $",
            "instance $ (shared at infra concurrency)",
            "infrastructure $ per 1,000 runs",
            "share of model cost",
            "target ≤ 2%",
            "unshared instance: $ per 1,000 / share",
        ],
    )
    for mode, samples in measured.items():
        m = {key: median([s[key] for s in samples]) for key in samples[0]}
        shared = _dollars(m, shared=True)
        alone = _dollars(m, shared=False)
        total, total_alone = sum(shared.values()), sum(alone.values())
        service_ms = (m["runs_seconds"] + m["worker_seconds"]) * 1000
        figure.rows.append(
            [
                mode,
                f"{m['reads']:.0f} / {m['writes']:.0f}",
                f"{m['messages']:.0f}",
                f"{service_ms:.0f}",
                f"{shared['firestore'] * 1000:.4f}",
                f"{shared['pubsub'] * 1000:.5f}",
                f"{shared['instance'] * 1000:.4f}",
                f"{total * 1000:.4f}",
                f"{total / model:.2%}",
                verdict(total <= TARGET * model),
                f"{total_alone * 1000:.4f} / {total_alone / model:.2%}",
            ]
        )
    notes = [
        f"- Model cost of a typical Gemini 2.5 Flash run ({INPUT_TOKENS:,} tokens in, {OUTPUT_TOKENS} out, "
        f"catalog prices): ${model:.5f} per run, ${model * 1000:.2f} per 1,000 runs; 2% of it is "
        f"${model * 20:.3f} per 1,000.",
        f"- Prices: Firestore ${FIRESTORE_READ * 1e5:.2f} / ${FIRESTORE_WRITE * 1e5:.2f} per 100k reads / "
        "writes (us-central1); Pub/Sub $40 per TiB, at least 1,000 bytes per publish and per delivery; "
        f"Cloud Run ${CPU_SECOND} per vCPU-s, ${GIB_SECOND} per GiB-s, $0.40 per million requests. "
        "Free tiers ignored.",
        f"- Instance time per run = the service's own time measured here + {MODEL_SECONDS:.0f} s of model "
        "answer time (an assumption; the offline model answers at once), divided by the runs an instance "
        f"serves at once (runs {instances['runs'][2]}, worker {instances['worker'][2]}, infra/main.tf, which "
        "also gives functions-framework as many threads) when instances are kept busy; the last column "
        "assumes one run per instance. Warm instances (`min_instances`: auth 1, runs 1 by default) are a "
        "fixed cost whatever the number of runs: two idle 1 vCPU / 1 GiB instances.",
        f"- {SAMPLES} samples per mode (medians), functions served in this process against the emulators; "
        "async = the enqueue request + the worker's delivery, both counted.",
    ]
    figure.notes.extend(notes)
    return figure
