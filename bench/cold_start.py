"""Figure 1 — cold start: a fresh interpreter importing each entry module.

Each sample is a new ``python`` process that imports ``functions/<name>/main.py`` exactly as
functions-framework loads it (``load_function_module`` + ``exec_module``), timed inside the
process around that import (interpreter start-up is the same for every subject and is
reported separately). The floors are measured in the same loop, alternating with the
subjects:

- floor: ``import functions_framework, google.cloud.firestore, jwt, pydantic``;
- runtime floor (runs, worker): the floor + ``pydantic_ai`` + the Gemini model/provider
  modules (``pydantic_ai.models.google``, ``pydantic_ai.providers.google_cloud``).

It also checks that the Anthropic SDK is not imported by any entry module, nor by an
offline-model run (a sync run through the runs function in a fresh process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from bench._stack import Figure, Stack, median, ms, ratio, verdict
from tools.functions import FUNCTIONS, ROOT

ROUNDS = 7
TARGET = 1.10
FLOOR_IMPORTS = "functions_framework, google.cloud.firestore, jwt, pydantic"
RUNTIME_IMPORTS = (
    FLOOR_IMPORTS + ", pydantic_ai, pydantic_ai.models.google, pydantic_ai.providers.google_cloud"
)
RUNTIME_FUNCTIONS = {"runs", "worker"}
AG_UI_ROUTER = "runs + first AG-UI request (our router)"
AG_UI_ASGI = "runs + AG-UI as ASGI (functions-framework aio)"
HEAVY = (
    "anthropic",
    "pydantic_ai",
    "google.genai",
    "firebase_admin",
    "argon2",
    "jsonschema",
    "fastmcp",
    "mcp",
)
# The MCP client (FastMCP + the mcp SDK, ~2 s to import): only runs of agents with MCP servers.
MCP_CLIENT = ("fastmcp", "mcp", "pydantic_ai.mcp")

_TIMED = """
import json, sys, time
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"seconds": elapsed, "heavy": heavy}}))
"""


def _import_module_code(name: str) -> str:
    source = ROOT / "functions" / name / "main.py"
    return textwrap.dedent(
        f"""
        from functions_framework import _function_registry
        module, spec = _function_registry.load_function_module({str(source)!r})
        spec.loader.exec_module(module)
        """
    )


def _sample(body: str, env: dict[str, str]) -> tuple[float, float, list[str]]:
    code = _TIMED.format(body=body, heavy=HEAVY)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), wall, list(result["heavy"])


_OFFLINE_RUN = """
import json, sys, uuid
import functions_framework
from shared.auth.tokens import issue_access_token
from shared.auth.users import create_user
agents = functions_framework.create_app(target="agents_api", source={agents!r}).test_client()
runs = functions_framework.create_app(target="runs_api", source={runs!r}).test_client()
before = "anthropic" in sys.modules
name = "cold_" + uuid.uuid4().hex[:8]
user = create_user(username=name, email=name + "@example.com", password_hash=None, role="user")
token, _ = issue_access_token(user.id, user.role, user.username)
headers = {{"Authorization": "Bearer " + token}}
body = {{"name": "cold", "display_name": "Cold", "description": "d",
        "model": {{"provider": "vertex-gemini", "name": "gemini-2.5-flash"}},
        "system_prompt": "Answer.", "tools": []}}
agent = agents.post("/agents", json=body, headers=headers)
assert agent.status_code == 201, agent.get_data(as_text=True)
run = runs.post("/runs", json={{"agent_id": agent.get_json()["id"], "input": "hi"}}, headers=headers)
assert run.status_code == 200 and run.get_json()["status"] == "succeeded", run.get_data(as_text=True)
mcp = [m for m in {mcp!r} if m in sys.modules]
print(json.dumps({{"before": before, "after": "anthropic" in sys.modules, "mcp": mcp}}))
"""


def _anthropic_after_offline_run(env: dict[str, str]) -> tuple[bool, bool, list[str]]:
    code = _OFFLINE_RUN.format(
        agents=str(ROOT / "functions" / "agents" / "main.py"),
        runs=str(ROOT / "functions" / "runs" / "main.py"),
        mcp=MCP_CLIENT,
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return bool(result["before"]), bool(result["after"]), list(result["mcp"])


def run(stack: Stack) -> Figure:
    env = {**stack.env, "PATH": "/usr/bin:/bin"}
    subjects: dict[str, str] = {
        "floor": f"import {FLOOR_IMPORTS}",
        "runtime floor": f"import {RUNTIME_IMPORTS}",
        "interpreter only": "pass",
    }
    subjects.update({f.name: _import_module_code(f.name) for f in FUNCTIONS})
    # Protocol endpoints (docs/architecture.md, "Protocol endpoints"): what the runs function's
    # first AG-UI request adds on our own router, and what hosting it as ASGI would add.
    subjects[AG_UI_ROUTER] = _import_module_code("runs") + "import pydantic_ai.ui.ag_ui\n"
    subjects[AG_UI_ASGI] = (
        _import_module_code("runs")
        + "import functions_framework.aio, starlette.responses, pydantic_ai.ui.ag_ui\n"
    )
    # One unmeasured pass so every .pyc exists before timing.
    for body in subjects.values():
        _sample(body, env)
    inner: dict[str, list[float]] = {name: [] for name in subjects}
    walls: dict[str, list[float]] = {name: [] for name in subjects}
    heavy: dict[str, list[str]] = {}
    for _ in range(ROUNDS):
        for name, body in subjects.items():
            seconds, wall, loaded = _sample(body, env)
            inner[name].append(seconds)
            walls[name].append(wall)
            heavy[name] = loaded
    floor = median(inner["floor"])
    runtime_floor = median(inner["runtime floor"])
    figure = Figure(
        "1. Cold start (import of the entry module in a fresh interpreter)",
        [
            "subject",
            "best ms",
            "median ms",
            "floor",
            "ratio (median)",
            "target",
            "heavy modules loaded",
            "process wall ms (median)",
        ],
    )
    for name in subjects:
        best, mid = min(inner[name]), median(inner[name])
        if name in ("floor", "runtime floor", "interpreter only"):
            figure.rows.append(
                [
                    name,
                    ms(best),
                    ms(mid),
                    "—",
                    "—",
                    "—",
                    ", ".join(heavy[name]) or "—",
                    ms(median(walls[name])),
                ]
            )
            continue
        if name in (AG_UI_ROUTER, AG_UI_ASGI):
            runs = median(inner["runs"])
            figure.rows.append(
                [
                    name,
                    ms(best),
                    ms(mid),
                    "runs",
                    ratio(mid, runs),
                    "informational",
                    ", ".join(heavy[name]) or "none",
                    ms(median(walls[name])),
                ]
            )
            continue
        base = runtime_floor if name in RUNTIME_FUNCTIONS else floor
        ok = mid <= TARGET * base and not {"anthropic", "fastmcp", "mcp"} & set(heavy[name])
        figure.rows.append(
            [
                name,
                ms(best),
                ms(mid),
                "runtime floor" if name in RUNTIME_FUNCTIONS else "floor",
                ratio(mid, base),
                f"≤ {TARGET:.2f}x {verdict(ok)}",
                ", ".join(heavy[name]) or "none",
                ms(median(walls[name])),
            ]
        )
    before, after, mcp_loaded = _anthropic_after_offline_run(env)
    figure.notes.append(
        f"- {ROUNDS} samples per subject, floors and subjects alternating. Times are measured inside the "
        "fresh interpreter around the import; `process wall` adds interpreter start-up and exit, the same "
        "for every subject."
    )
    figure.notes.append(
        f"- Anthropic SDK imported: after importing runs: {before}; after an offline-model sync run in that "
        f"process: {after} {verdict(not before and not after)} (loaded only when a Claude agent runs)."
    )
    figure.notes.append(
        "- MCP client imported after that run (an agent without MCP servers): "
        f"{', '.join(mcp_loaded) or 'none'} {verdict(not mcp_loaded)} "
        "(loaded only when an agent that lists MCP servers runs)."
    )
    figure.notes.append(
        "- Entry modules import only functions-framework, Flask, `shared.web` and their schemas; Firestore, "
        "pydantic-ai, the model SDKs, firebase-admin, argon2 and jsonschema load on first use, so every "
        "function's import is below the floor (which itself imports the Firestore client)."
    )
    return figure
