"""The web console approves and denies tool calls (issue 16): in the chat, and on the runs page."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.test_browser import _auth, _register_in_console, browser, page  # noqa: F401
from tests.test_browser import pytestmark as pytestmark

WRITE = 'Save it\ncall file_write {"path": "web/note.txt", "content": "from the console"}'


def _agent(base: str, page: Any) -> str:  # noqa: F811
    definition = {
        "name": "web-scribe",
        "display_name": "Web scribe",
        "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
        "system_prompt": "You keep notes.",
        "tools": [{"name": "file_write", "config": {"requires_approval": True}}],
    }
    response = requests.post(f"{base}/agents", headers=_auth(page), json=definition, timeout=30)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_approve_in_the_chat_and_deny_on_the_runs_page(page: Any, live_stack: Any) -> None:  # noqa: F811
    base = live_stack.base_url
    _register_in_console(page, base)
    agent_id = _agent(base, page)

    page.goto(f"{base}/#/chat/{agent_id}")
    page.get_by_role("heading", name="Chat: Web scribe").wait_for()
    page.get_by_role("textbox", name="Message").fill(WRITE)
    page.get_by_role("button", name="Send").click()
    panel = page.get_by_role("group", name="Approval needed")
    panel.wait_for()
    assert "file_write" in panel.inner_text() and "from the console" in panel.inner_text()
    panel.get_by_role("button", name="Approve").click()
    reply = page.locator(".message.assistant .reply").last
    page.wait_for_function(
        "el => el.textContent.includes('Tool file_write returned')",
        arg=reply.element_handle(),
        timeout=120_000,
    )
    # The reply's text arrives before the run's record is finished: wait for the meta line.
    meta = page.locator(".message.assistant p.muted").last
    page.wait_for_function("el => el.textContent.startsWith('succeeded')", arg=meta.element_handle())
    runs = requests.get(f"{base}/runs", headers=_auth(page), timeout=30).json()["items"]
    assert runs[0]["status"] == "succeeded" and runs[0]["approvals"][0]["approve"] is True

    # A paused run from elsewhere: decided on the runs page.
    paused = requests.post(
        f"{base}/runs", headers=_auth(page), json={"agent_id": agent_id, "input": WRITE}, timeout=60
    ).json()
    assert paused["status"] == "requires_action"
    page.goto(f"{base}/#/runs?run={paused['id']}")
    panel = page.get_by_role("group", name="Approval needed")
    panel.wait_for()
    panel.get_by_role("textbox").fill("not today")
    panel.get_by_role("button", name="Deny").click()
    page.get_by_role("status").filter(has_text="succeeded").first.wait_for(timeout=120_000)
    run = requests.get(f"{base}/runs/{paused['id']}", headers=_auth(page), timeout=30).json()
    assert run["status"] == "succeeded", json.dumps(run)
    assert run["approvals"][0]["approve"] is False and run["approvals"][0]["reason"] == "not today"
