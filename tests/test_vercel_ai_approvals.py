"""The Vercel AI SDK (the official client, tools/vercel-ai) reads a paused run's stream and its
continuation (issue 16): the tool part asks for approval, and a denial shows as denied."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveStack
from tests.test_worker_live import Api, api  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tools" / "vercel-ai"
WRITE = 'Save it\ncall file_write {"path": "sdk/note.txt", "content": "via the ai sdk"}'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("node") is None or not (CLIENT / "node_modules" / "ai").exists(),
        reason="node and tools/vercel-ai (make install: npm ci) are needed",
    ),
]


def _read(url: str, token: str, body: dict[str, Any], previous: Any = None) -> dict[str, Any]:
    extra = [json.dumps(previous)] if previous is not None else []
    done = subprocess.run(
        ["node", str(CLIENT / "read_stream.mjs"), url, token, json.dumps(body), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=CLIENT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_ai_sdk_sees_the_approval_request_and_the_denial(api: Api, live_stack: LiveStack) -> None:  # noqa: F811
    agent_id = api.agent(tools=[{"name": "file_write", "config": {"requires_approval": True}}])
    token = api.headers["Authorization"].removeprefix("Bearer ")
    message = _read(
        f"{live_stack.base_url}/runs?format=vercel-ai",
        token,
        {"agent_id": agent_id, "input": WRITE, "mode": "stream"},
    )
    [tool] = [p for p in message["parts"] if p["type"] == "tool-file_write"]
    assert tool["state"] == "approval-requested", tool
    assert tool["input"] == {"path": "sdk/note.txt", "content": "via the ai sdk"}
    assert tool["approval"]["id"] == tool["toolCallId"]

    paused = api.get("/runs", params={"status": "requires_action"}).json()["items"][0]
    item = paused["required_action"]["items"][0]
    assert item["tool_call_id"] == tool["toolCallId"]
    decision = {"tool_call_id": item["tool_call_id"], "approve": False, "args_sha256": item["args_sha256"]}
    continued = _read(
        f"{live_stack.base_url}/runs/{paused['id']}/approvals?format=vercel-ai",
        token,
        {"decisions": [{**decision, "reason": "not now"}], "mode": "stream"},
        previous=message,
    )
    states = [p.get("state") for p in continued["parts"] if p["type"] == "tool-file_write"]
    assert states == ["output-denied"], continued
    texts = "".join(p.get("text", "") for p in continued["parts"] if p["type"] == "text")
    assert "could not be used" in texts
    assert api.run(paused["id"])["status"] == "succeeded"
