"""The official npm clients against the real functions behind the gateway (issue 18): the
``openai`` package (models, chat completion, streamed Responses, a refused parameter) and
``@ag-ui/client``'s ``HttpAgent`` (one AG-UI run), both with a personal access token.
The packages come from ``tests/clients/package-lock.json`` (``make install`` runs ``npm ci``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveStack, TestUser
from tests.test_runs import definition

CLIENTS = Path(__file__).parent / "clients"


def test_openai_npm_and_ag_ui_client(live_stack: LiveStack, make_user: Callable[..., TestUser]) -> None:
    if shutil.which("node") is None or not (CLIENTS / "node_modules").is_dir():
        pytest.fail("node and tests/clients/node_modules are required (make install)")
    user = make_user()
    headers = {"Authorization": f"Bearer {user.token}"}
    created = requests.post(
        live_stack.base_url + "/agents", json=definition("npm-helper"), headers=headers, timeout=30
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    careful = requests.post(
        live_stack.base_url + "/agents",
        json=definition(
            "npm-careful", tools=[{"name": "grep", "enabled": True, "config": {"requires_approval": True}}]
        ),
        headers=headers,
        timeout=30,
    )
    assert careful.status_code == 201, careful.text
    careful_id = careful.json()["id"]
    secret = requests.post(
        live_stack.base_url + "/auth/tokens",
        json={"name": "npm", "scopes": ["runs"]},
        headers=headers,
        timeout=30,
    ).json()["secret"]
    done = subprocess.run(
        ["node", "check.mjs", live_stack.base_url, secret, "npm-helper", agent_id, careful_id],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert sorted(report["models"]) == ["npm-careful", "npm-helper"]
    assert report["chat"] == {
        "content": 'Offline reply to "hello from npm". (message 1 of this conversation)',
        "finish": "stop",
    }
    assert report["responses_stream"] == {
        "text": 'Offline reply to "stream from npm". (message 1 of this conversation)',
        "first": "response.created",
        "last": "response.completed",
    }
    assert report["unsupported"] == {"status": 400, "code": "unsupported_parameter", "param": "n"}
    events = report["ag_ui"]["events"]
    assert events[0] == "RUN_STARTED" and events[-1] == "RUN_FINISHED", events
    assert "TEXT_MESSAGE_CONTENT" in events
    assert report["ag_ui"]["messages"] == [
        {
            "role": "assistant",
            "content": 'Offline reply to "hello from ag-ui". (message 1 of this conversation)',
        }
    ]
    approval = report["ag_ui_approval"]
    # No empty TEXT_MESSAGE_START/END pair before the tool call: the client builds the
    # assistant message carrying the call itself, with the parentMessageId we sent.
    assert approval["paused_events"] == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ], approval
    assert approval["call_message"] == {"role": "assistant", "is_parent": True, "tools": ["grep"]}
    assert approval["finished"] == {"outcome": "interrupt", "count": 1}
    [pending] = approval["pending"]
    runs = requests.get(live_stack.base_url + "/runs?limit=100", headers=headers, timeout=30).json()["items"]
    paused_run = next(r for r in runs if r["agent_id"] == careful_id)  # since resumed
    [item] = paused_run["approvals"]
    assert pending["id"] == f"int-{paused_run['id']}.{item['tool_call_id']}"
    assert pending["reason"] == "tool_call" and pending["toolCallId"] == item["tool_call_id"]
    assert pending["expiresAt"] is not None and pending["schemaFields"] == ["approved", "reason"]
    assert "pending interrupt" in approval["refused"]  # the client insists on answering it
    assert approval["resumed_events"][0] == "RUN_STARTED" and approval["resumed_events"][-1] == "RUN_FINISHED"
    assert "TOOL_CALL_RESULT" in approval["resumed_events"]
    assert approval["pending_after"] == 0
    # The continued run saw the history of the first request (two user messages).
    assert approval["resumed_messages"][-1]["content"].endswith("(message 2 of this conversation)")
    runs = requests.get(live_stack.base_url + "/runs?limit=100", headers=headers, timeout=30).json()["items"]
    assert len(runs) == 4 and all(r["status"] == "succeeded" for r in runs)  # chat, responses, 2 ag-ui
    resumed = next(r for r in runs if r["agent_id"] == careful_id)
    assert [(d["tool_call_id"], d["approve"]) for d in resumed["approvals"]] == [(item["tool_call_id"], True)]
