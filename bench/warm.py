"""Figure 3 — warm per-request overhead, against the same Firestore work done bare.

- ``GET /agents/{id}`` through the agents function's functions-framework app (in this
  process, so no socket hop is counted) vs a bare Firestore get of the same document.
- A sync run (``POST /runs``, offline model) vs pydantic-ai called directly with the same
  model plus the same number of Firestore reads and writes, done bare, and the one Pub/Sub
  publish every finished run makes (the run-results topic, API decision in async.md).

Subject and floor calls alternate, so load from elsewhere on the machine hits both alike.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench._stack import (
    Api,
    Figure,
    Stack,
    agent_definition,
    cost,
    expect,
    interleaved,
    make_user,
    ms,
    percentile,
    ratio,
    verdict,
)

GET_ROUNDS = 300
RUN_ROUNDS = 60
TARGET = 1.5


def _stats(samples: list[float]) -> tuple[float, float]:
    return percentile(samples, 50), percentile(samples, 99)


def run(stack: Stack) -> Figure:
    from shared import db

    agents, runs = Api("agents"), Api("runs")
    user = make_user()
    agent_id = expect(
        agents.call("POST", "/agents", token=user.token, json=agent_definition()), 201
    ).get_json()["id"]
    agent_ref = db.collection("agents").document(agent_id)
    user_ref = db.collection("users").document(user.id)

    def get_agent() -> None:
        expect(agents.call("GET", f"/agents/{agent_id}", token=user.token))

    get_reads, _ = cost(agents.call("GET", f"/agents/{agent_id}", token=user.token))
    samples = interleaved(
        {
            "service": get_agent,
            "bare get": lambda: db.get(agent_ref),
            "bare gets (user + agent)": lambda: (db.get(user_ref), db.get(agent_ref)),
        },
        GET_ROUNDS,
        warmup=20,
    )

    # The sync run's floor: pydantic-ai directly with the offline model, plus the same
    # number of Firestore reads and writes the endpoint makes (as bare gets and sets).
    run_body = {"agent_id": agent_id, "input": "hello there"}
    run_reads, run_writes = cost(expect(runs.call("POST", "/runs", token=user.token, json=run_body)))
    direct_agent = _direct_agent()
    scratch = db.collection("bench_scratch")
    from shared.clients import publisher, topic_path
    from shared.settings import get_settings

    results: Any = publisher()
    results_topic = topic_path(get_settings().run_results_topic)

    def service_run() -> None:
        body = expect(runs.call("POST", "/runs", token=user.token, json=run_body)).get_json()
        if body["status"] != "succeeded":
            raise RuntimeError(f"run {body['status']}")

    def direct_run() -> None:
        from shared import aio

        for _ in range(run_reads):
            db.get(agent_ref)
        result = aio.run(direct_agent.run("hello there"))
        for _ in range(run_writes):
            db.set(scratch.document(uuid.uuid4().hex), {"output": result.output, "status": "succeeded"})
        results.publish(results_topic, b"{}", run_id="floor").result(timeout=10)

    run_samples = interleaved({"service": service_run, "floor": direct_run}, RUN_ROUNDS, warmup=5)

    figure = Figure(
        "3. Warm overhead",
        ["operation", "p50 ms", "p99 ms", "floor", "floor p50 ms", "floor p99 ms", "p50 ratio", "target"],
    )
    service_p50, service_p99 = _stats(samples["service"])
    bare_p50, bare_p99 = _stats(samples["bare get"])
    both_p50, both_p99 = _stats(samples["bare gets (user + agent)"])
    figure.rows.append(
        [
            "GET /agents/{id}",
            ms(service_p50),
            ms(service_p99),
            "bare get of the agent",
            ms(bare_p50),
            ms(bare_p99),
            ratio(service_p50, bare_p50),
            f"≤ {TARGET}x {verdict(service_p50 <= TARGET * bare_p50)}",
        ]
    )
    figure.rows.append(
        [
            "GET /agents/{id}",
            ms(service_p50),
            ms(service_p99),
            "bare gets of user + agent",
            ms(both_p50),
            ms(both_p99),
            ratio(service_p50, both_p50),
            f"≤ {TARGET}x {verdict(service_p50 <= TARGET * both_p50)}",
        ]
    )
    run_p50, run_p99 = _stats(run_samples["service"])
    floor_p50, floor_p99 = _stats(run_samples["floor"])
    figure.rows.append(
        [
            "POST /runs (sync, offline)",
            ms(run_p50),
            ms(run_p99),
            f"pydantic-ai run + {run_reads} gets + {run_writes} sets + 1 result publish",
            ms(floor_p50),
            ms(floor_p99),
            ratio(run_p50, floor_p50),
            f"≤ {TARGET}x {verdict(run_p50 <= TARGET * floor_p50)}",
        ]
    )
    figure.notes.append(
        f"- {GET_ROUNDS} interleaved samples for the GET, {RUN_ROUNDS} for the run; in-process "
        "functions-framework app (Flask test client), Firestore emulator over gRPC."
    )
    figure.notes.append(
        f"- `GET /agents/{{id}}` makes {get_reads} reads: the caller's user document (re-read on every "
        "request so a deactivated user is refused at once, API.md) and the agent. For reads the "
        "service overlaps the two (the user re-read runs on a helper thread while the handler "
        "reads the agent, and must confirm before the response is sent); what remains above one "
        "bare get is the second RPC sharing the channel and the interpreter (HTTP parsing, JWT "
        "check, validation, JSON), so the second row (the same two reads, done bare) is the floor "
        "that applies."
    )
    return figure


def _direct_agent() -> Any:
    from pydantic_ai import Agent

    from shared.execution.offline import OfflineModel

    return Agent(OfflineModel("gemini-2.5-flash"), instructions="You answer briefly.")
