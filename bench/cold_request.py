"""Figure 9 — the first request after a cold start, as a serverless user feels it.

Subjects (each a fresh functions-framework process, as Cloud Run starts an instance):

- runs, first sync run: from spawning the `runs` process to the response of the first
  `POST /runs` (mode sync, offline model) — the request is sent as soon as the port accepts;
- runs, first streamed text: the same, to the first `text.delta` event of a streamed run;
- worker, first message: from spawning the `worker` process to the 2xx of the first Pub/Sub
  push (a queued async run, executed to the end before the ack).

Floor, measured in the same loop, interleaved: a fresh interpreter that imports pydantic-ai
with the Gemini model and provider modules, runs one `TestModel` agent and does one
Firestore get and set (what any Python agent service on this stack must do), timed from
spawn to its "done" line. Target: subject ≤ 0.8x the floor.

Two references (not floors) show where a subject's time can go: the floor without the Gemini
modules, and that same work served as the first request of a functions-framework process
with no service code (``bench/_served_floor.py``).

`python -X importtime` of the runs process's first sync run shows where the time goes
(``import_profile``); its largest packages are listed under the table.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx

from bench._stack import PROJECT, Api, Figure, Stack, agent_definition, expect, make_user, median, ms, verdict
from tools import localstack
from tools.functions import ROOT, spec

ROUNDS = 9  # the first request varies by ±20% between runs on a quiet VM: 5 rounds left medians jumpy
TARGET = 0.8

FLOOR = """
import sys, time
from pydantic_ai import Agent
import pydantic_ai.models.google, pydantic_ai.providers.google_cloud
from pydantic_ai.models.test import TestModel
from google.cloud import firestore
result = Agent(TestModel()).run_sync("hello")
client = firestore.Client(project=sys.argv[1])
ref = client.collection("bench_floor").document("doc")
ref.set({"output": result.output})
ref.get()
print("done", flush=True)
"""


# Not a floor: the floor without the Gemini model and provider modules (google.genai), which
# the offline model never imports. The subjects still pay everything else the floor pays, so
# this is about the least a subject's first request could cost: the reference shows how much
# of the 0.8x target the serving itself (functions-framework, routing, auth, run records,
# events, result publish) may take.
REFERENCE = FLOOR.replace("import pydantic_ai.models.google, pydantic_ai.providers.google_cloud\n", "")


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


def _floor(env: dict[str, str], script: str = FLOOR) -> float:
    started = time.perf_counter()
    proc = _spawn([sys.executable, "-c", script, PROJECT], env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait()
    if b"done" not in line:
        raise RuntimeError("the floor script failed")
    return elapsed


def _first_response(port: int, send: Any) -> Any:
    """Retry ``send`` until the fresh process accepts the connection (every 2 ms)."""
    while True:
        try:
            return send()
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            time.sleep(0.002)


def _served_reference(env: dict[str, str]) -> float:
    port = localstack.free_port()
    command = [
        sys.executable,
        "-m",
        "functions_framework",
        "--target=served_floor",
        f"--source={ROOT / 'bench' / '_served_floor.py'}",
        "--signature-type=http",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    started = time.perf_counter()
    proc = _spawn(command, env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            response = _first_response(port, lambda: client.get("/"))
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"served reference: {response.status_code} {response.text[:200]}")
        return elapsed
    finally:
        _stop(proc)


def _runs_subject(env: dict[str, str], token: str, agent_id: str, stream: bool) -> float:
    port = localstack.free_port()
    started = time.perf_counter()
    proc = _spawn(localstack.function_command(spec("runs"), port), env)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"agent_id": agent_id, "input": "hello", "mode": "stream" if stream else "sync"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
            if not stream:
                response = _first_response(port, lambda: client.post("/runs", json=body))
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or response.json()["status"] != "succeeded":
                    raise RuntimeError(f"first sync run: {response.status_code} {response.text[:200]}")
                return elapsed

            def first_text() -> float:
                with client.stream("POST", "/runs", json=body) as response:
                    for line in response.iter_lines():
                        if line.startswith("event:") and "text.delta" in line:
                            return time.perf_counter() - started
                raise RuntimeError(f"no text.delta event ({response.status_code})")

            return _first_response(port, first_text)
    finally:
        _stop(proc)


def _worker_subject(env: dict[str, str], runs: Api, token: str, agent_id: str) -> float:
    response = runs.call(
        "POST", "/runs", token=token, json={"agent_id": agent_id, "input": "hi", "mode": "async"}
    )
    run_id = expect(response, 202).get_json()["id"]
    topic = localstack.Topology().run_requests
    push = {
        "message": {
            "data": base64.b64encode(json.dumps({"run_id": run_id}).encode()).decode(),
            "attributes": {"run_id": run_id},
            "messageId": f"cold-{run_id}",
            "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/{PROJECT}/subscriptions/cold",
    }
    port = localstack.free_port()
    started = time.perf_counter()
    proc = _spawn(localstack.function_command(spec("worker"), port), env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            reply = _first_response(
                port, lambda: client.post(f"/projects/{PROJECT}/topics/{topic}", json=push)
            )
            elapsed = time.perf_counter() - started
        if reply.status_code not in (200, 204):
            raise RuntimeError(f"first push: {reply.status_code} {reply.text[:200]}")
    finally:
        _stop(proc)
    status = expect(runs.call("GET", f"/runs/{run_id}", token=token)).get_json()["status"]
    if status != "succeeded":
        raise RuntimeError(f"the worker's first run ended {status}")
    return elapsed


def import_profile(env: dict[str, str], token: str, agent_id: str, top: int = 12) -> list[tuple[str, float]]:
    """Cumulative import time per top-level package on the runs process's first sync run."""
    port = localstack.free_port()
    command = localstack.function_command(spec("runs"), port)
    # To a file: the import log is larger than a pipe's buffer, which would block the process.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [command[0], "-X", "importtime", *command[1:]],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                body = {"agent_id": agent_id, "input": "hello"}
                headers = {"Authorization": f"Bearer {token}"}
                _first_response(port, lambda: client.post("/runs", json=body, headers=headers))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        log.seek(0)
        stderr = log.read()
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.decode(errors="replace").splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and len(match.group(3)) == 1:  # top-level imports only: their cumulative time
            totals[match.group(4).split(".")[0]] += int(match.group(2)) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def run(stack: Stack) -> Figure:
    env = {**stack.env, "PATH": "/usr/bin:/bin"}
    agents, runs = Api("agents"), Api("runs")
    user = make_user()
    agent_id = expect(
        agents.call("POST", "/agents", token=user.token, json=agent_definition()), 201
    ).get_json()["id"]
    subjects = {
        "runs: first sync run": lambda: _runs_subject(env, user.token, agent_id, stream=False),
        "runs: first streamed text event": lambda: _runs_subject(env, user.token, agent_id, stream=True),
        "worker: first message (run finished, acked)": lambda: _worker_subject(
            env, runs, user.token, agent_id
        ),
    }
    _floor(env)  # compile caches, first Firestore document
    samples: dict[str, list[float]] = {
        "floor": [],
        "reference": [],
        "served": [],
        **{name: [] for name in subjects},
    }
    for _ in range(ROUNDS):
        samples["floor"].append(_floor(env))
        samples["reference"].append(_floor(env, REFERENCE))
        samples["served"].append(_served_reference(env))
        for name, measure in subjects.items():
            samples[name].append(measure())
    floor = median(samples["floor"])
    figure = Figure(
        "9. First request after a cold start (fresh process → first result)",
        ["subject", "best ms", "median ms", "ratio to floor (median)", "target"],
    )
    figure.rows.append(
        [
            "floor: fresh interpreter, pydantic-ai + Gemini modules, TestModel run, Firestore get+set",
            ms(min(samples["floor"])),
            ms(floor),
            "—",
            "—",
        ]
    )
    labels = {
        "reference": "reference (not a floor): the floor without the Gemini model modules (the offline "
        "model never imports them)",
        "served": "reference served by functions-framework (not a floor): the reference's work as the "
        "first request of a fresh `functions_framework` process, no service code",
    }
    for key, label in labels.items():
        mid = median(samples[key])
        figure.rows.append([label, ms(min(samples[key])), ms(mid), f"{mid / floor:.2f}x", "—"])
    reference, served = median(samples["reference"]), median(samples["served"])
    for name in subjects:
        mid = median(samples[name])
        figure.rows.append(
            [
                name,
                ms(min(samples[name])),
                ms(mid),
                f"{mid / floor:.2f}x",
                f"≤ {TARGET:.1f}x {verdict(mid <= TARGET * floor)}",
            ]
        )
    profile = import_profile(env, user.token, agent_id)
    figure.notes.append(
        f"- {ROUNDS} rounds, floor and subjects interleaved; each subject is a new functions-framework "
        "process (`python -m functions_framework`), timed from spawn to the response (the request is "
        "retried every 2 ms until the port accepts, as a load balancer holds it until the instance is ready)."
    )
    figure.notes.append(
        f"- The reference row is {reference / floor:.2f}x the floor: the Gemini SDK is the only part of the "
        "floor an offline subject skips, so everything the service itself adds (functions-framework and "
        "gunicorn start, routing, token check, run and event records, the stored conversation, the result "
        f"publish) must fit in the remaining {max(TARGET * floor - reference, 0) * 1000:.0f} ms for the "
        f"{TARGET:.1f}x target; the subjects' distance from the reference is that serving cost."
    )
    figure.notes.append(
        f"- The served reference ({served / floor:.2f}x) is the same work as the first request of a "
        "functions-framework process with no service code (`bench/_served_floor.py`): what the framework "
        "the functions must run on (Flask, gunicorn, its own imports) costs before any of ours. The "
        f"subjects' distance from it ({(median(samples[next(iter(subjects))]) - served) * 1000:.0f} ms for "
        "the first sync run) is the service's own work: the token check and user lookup, the run record, "
        "events and stored conversation, the result publish (Pub/Sub client), and our modules' imports."
    )
    figure.notes.append(
        "- Where the first sync run's time goes (`python -X importtime`, cumulative per top-level package, "
        "ms): " + ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in profile) + "."
    )
    figure.notes.append(
        "- In Cloud Run, `tools/deploy.py` turns on startup CPU boost for every function (the instance gets "
        "extra CPU while it starts), and `min_instances` in `infra/` (variable `min_instances`) keeps warm "
        "instances where a cold first request must not happen (auth and runs keep one by default)."
    )
    return figure
