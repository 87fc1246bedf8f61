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
    secret = requests.post(
        live_stack.base_url + "/auth/tokens",
        json={"name": "npm", "scopes": ["runs"]},
        headers=headers,
        timeout=30,
    ).json()["secret"]
    done = subprocess.run(
        ["node", "check.mjs", live_stack.base_url, secret, "npm-helper", agent_id],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["models"] == ["npm-helper"]
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
    runs = requests.get(live_stack.base_url + "/runs?limit=100", headers=headers, timeout=30).json()["items"]
    assert len(runs) == 3 and all(r["status"] == "succeeded" for r in runs)  # chat, responses, ag-ui
