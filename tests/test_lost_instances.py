"""Sync and stream runs whose instance dies (#21 point 5): the functions run as real processes
behind the gateway; the runs function is killed mid-run (SIGKILL: no cleanup at all) and the
sweep ends the run — failed, ``instance_lost``, the usage of its last checkpoint, the session
released, the terminal event stored."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import LiveStack
from tests.test_worker_live import Api, api  # noqa: F401

pytestmark = pytest.mark.slow
LEASE = "5"


@pytest.fixture
def short_runs_lease(live_stack: LiveStack) -> Iterator[None]:
    with live_stack.override_env("runs", RUN_LEASE_SECONDS=LEASE):
        yield


def _start(api: Api, body: dict[str, Any]) -> threading.Thread:  # noqa: F811
    """POST /runs in the background; the connection dies with the instance."""

    def post() -> None:
        try:
            requests.post(f"{api.base}/runs", json=body, headers=api.headers, timeout=120)
        except requests.RequestException:
            pass

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _kill_runs_function(live_stack: LiveStack) -> None:
    process = live_stack.processes["runs"].proc
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    live_stack.restart("runs")


def _running(api: Api, agent_id: str) -> dict[str, Any]:  # noqa: F811
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = api.get("/runs", params={"agent_id": agent_id, "status": "running"}).json()["items"]
        if items:
            return items[0]
        time.sleep(0.2)
    raise AssertionError("the run never started")


def _conversation_segments(run_id: str) -> int:
    from shared import db
    from shared.runs import repository

    return len(db.query(repository.run_ref(run_id).collection("conversation")))


def _sweep_until_lost(run_id: str) -> None:
    from shared.runs.sweep import sweep

    time.sleep(float(LEASE) + 0.5)  # the dead instance's lease lapses
    deadline = time.monotonic() + 30
    while sweep().runs_lost == 0 and time.monotonic() < deadline:
        time.sleep(1)


@pytest.mark.usefixtures("short_runs_lease")
@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_a_killed_sync_or_stream_run_is_ended_by_the_sweep(
    api: Api,  # noqa: F811
    live_stack: LiveStack,
    mode: str,
) -> None:
    agent_id = api.agent(tools=[{"name": "find", "enabled": True, "config": {}}])
    session = api.post("/sessions", {"agent_id": agent_id}).json()
    # One model call with a tool (checkpointed), then the second model call waits: killed there.
    prompt = 'pause 3\ncall find {"pattern": "*"}'
    _start(api, {"agent_id": agent_id, "input": prompt, "mode": mode, "session_id": session["id"]})
    run = _running(api, agent_id)
    deadline = time.monotonic() + 60
    while _conversation_segments(run["id"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _conversation_segments(run["id"]) == 2, "the tool's result was never checkpointed"
    _kill_runs_function(live_stack)
    assert api.run(run["id"])["status"] == "running"  # nobody knows yet

    _sweep_until_lost(run["id"])
    final = api.run(run["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "instance_lost", final
    assert final["usage"]["requests"] == 1 and final["usage"]["tool_calls"] == 1
    assert final["finished_at"]
    assert api.wait_events(run["id"])[-1]["type"] == "run.failed"
    # The session is free again.
    again = api.post("/runs", {"agent_id": agent_id, "input": "say free", "session_id": session["id"]})
    assert again.status_code == 200 and again.json()["status"] == "succeeded", again.text


@pytest.mark.usefixtures("short_runs_lease")
def test_a_killed_workflow_run_is_ended_by_the_sweep(api: Api, live_stack: LiveStack) -> None:  # noqa: F811
    step = api.agent("step")
    response = api.post(
        "/agents",
        {
            "name": "flow",
            "kind": "workflow",
            "workflow": {"steps": [{"name": "only", "agent_id": step, "input_template": "{{input}}"}]},
        },
    )
    assert response.status_code == 201, response.text
    flow = response.json()["id"]
    _start(api, {"agent_id": flow, "input": "pause 30\nsay never", "mode": "sync"})
    run = _running(api, flow)
    time.sleep(1)
    _kill_runs_function(live_stack)
    _sweep_until_lost(run["id"])
    final = api.run(run["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "instance_lost", final
    assert api.wait_events(run["id"])[-1]["type"] == "run.failed"


def test_a_live_long_run_keeps_its_lease(api: Api, live_stack: LiveStack) -> None:  # noqa: F811
    """A run longer than its lease renews it: the sweep leaves it alone and it succeeds.

    A 15 s lease (renewed every 5 s): the 5 s minimum leaves too little margin for a renewal
    transaction on a loaded machine's emulator.
    """
    from shared.runs.sweep import sweep

    with live_stack.override_env("runs", RUN_LEASE_SECONDS="15"):
        agent_id = api.agent()
        thread = _start(api, {"agent_id": agent_id, "input": "pause 24\nsay still here", "mode": "sync"})
        run = _running(api, agent_id)
        time.sleep(17)
        assert api.run(run["id"])["status"] == "running"
        assert sweep().runs_lost == 0
        thread.join(90)
    final = api.wait_finished(run["id"])
    assert final["status"] == "succeeded" and final["output"] == "still here", final
