"""The web console in headless Debian Chromium (Playwright) against the live stack."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and shutil.which("chromium") is None,
        reason="Debian chromium is not installed (`make test` installs it: apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    tab = context.new_page()
    console_errors: list[str] = []
    tab.on("pageerror", lambda error: console_errors.append(str(error)))
    yield tab
    # Keep a picture of where the test ended (useful when it failed).
    tab.screenshot(path=str(artifacts_dir / f"{request.node.name}-last.png"), full_page=True)
    context.close()
    assert console_errors == [], f"uncaught errors in the page: {console_errors}"


def _register_in_console(page: Any, base_url: str) -> str:
    username = f"web_{uuid.uuid4().hex[:10]}"
    page.goto(base_url + "/")
    page.wait_for_url("**/#/login")
    page.get_by_label("New username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/#/agents")
    page.get_by_text(f"Signed in as {username}").wait_for()
    return username


def test_sign_in_create_agent_and_chat_with_streamed_reply(
    page: Any, live_stack: Any, artifacts_dir: Path
) -> None:
    base = live_stack.base_url
    username = _register_in_console(page, base)

    # Sign out and back in through the sign-in form.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/#/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/#/agents")
    page.get_by_text("No agents yet").wait_for()

    # A definition the service rejects shows the field errors next to the editor.
    page.get_by_role("link", name="New agent").click()
    page.get_by_text("JSON (advanced)").click()  # the builder form's advanced view
    editor = page.get_by_label("Definition (JSON)")
    definition = {
        "name": "web-helper",
        "display_name": "Web helper",
        "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
        "system_prompt": "Help.",
        "tools": [{"name": "no_such_tool"}],
    }
    editor.fill(json.dumps(definition))
    page.get_by_role("button", name="Create agent").click()
    errors = page.locator("#definition-errors")
    errors.get_by_text("tools", exact=False).first.wait_for()
    assert "422" not in errors.inner_text()  # a human message, with the field named
    assert requests.get(f"{base}/agents", headers=_auth(page), timeout=30).json()["items"] == []

    definition["tools"] = [{"name": "find", "enabled": True, "config": {}}]
    editor.fill(json.dumps(definition))
    page.get_by_role("button", name="Create agent").click()
    page.get_by_role("heading", name="Agent: Web helper").wait_for()
    agents = requests.get(f"{base}/agents", headers=_auth(page), timeout=30).json()["items"]
    assert [a["name"] for a in agents] == ["web-helper"]

    # Chat: the reply streams into the transcript; the tool call is shown.
    page.get_by_role("link", name="Chat with this agent").click()
    page.get_by_role("heading", name="Chat: Web helper").wait_for()
    message = page.get_by_role("textbox", name="Message")
    message.fill('call find {"pattern": "*"}\nsay Hello from the streamed console reply')
    page.get_by_role("button", name="Send").click()
    reply = page.locator(".message.assistant .reply").last
    page.wait_for_function(
        "el => el.getAttribute('aria-busy') === 'false'", arg=reply.element_handle(), timeout=120_000
    )
    chat_errors = page.locator("form[aria-label='Send a message'] .errors")
    assert chat_errors.is_hidden(), chat_errors.inner_text()
    assert reply.inner_text() == "Hello from the streamed console reply"
    assert "→ find(" in page.locator(".message.assistant .tools").last.inner_text()
    assert reply.get_attribute("aria-live") == "polite"
    page.screenshot(path=str(artifacts_dir / "browser-chat.png"), full_page=True)

    runs = requests.get(f"{base}/runs", headers=_auth(page), timeout=30).json()["items"]
    assert [r["mode"] for r in runs] == ["stream"] and runs[0]["status"] == "succeeded"


def test_search_marketplace_install_and_rate(page: Any, live_stack: Any, artifacts_dir: Path) -> None:
    base = live_stack.base_url
    # A publisher (through the API) lists an agent.
    publisher = f"pub_{uuid.uuid4().hex[:8]}"
    requests.post(
        f"{base}/auth/register",
        json={"username": publisher, "email": f"{publisher}@example.com", "password": PASSWORD},
        timeout=30,
    ).raise_for_status()
    token = requests.post(
        f"{base}/auth/login", json={"username": publisher, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    agent = requests.post(
        f"{base}/agents",
        headers=headers,
        json={
            "name": "sql-explainer",
            "display_name": "SQL explainer",
            "description": "Explains SQL queries line by line.",
            "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
            "system_prompt": "Explain SQL.",
        },
        timeout=30,
    )
    agent.raise_for_status()
    listing = requests.post(
        f"{base}/marketplace/listings",
        headers=headers,
        json={"agent_id": agent.json()["id"], "category": "data", "tags": ["sql"], "summary": "Explains SQL"},
        timeout=30,
    )
    listing.raise_for_status()
    listing_id = listing.json()["id"]

    _register_in_console(page, base)
    page.get_by_role("link", name="Marketplace").click()
    page.get_by_label("Search", exact=True).fill("sql")
    page.get_by_role("button", name="Search").click()
    card = page.get_by_role("link", name="SQL explainer")
    card.wait_for()
    page.screenshot(path=str(artifacts_dir / "browser-marketplace.png"), full_page=True)

    card.click()
    page.get_by_role("heading", name="SQL explainer").wait_for()
    page.get_by_role("button", name="Install").click()
    page.get_by_role("status").get_by_text("Installed as").wait_for()
    page.get_by_label("Stars").select_option("4")
    page.get_by_role("button", name="Submit rating").click()
    page.get_by_text("rated 4 stars").wait_for()

    stats = requests.get(f"{base}/marketplace/listings/{listing_id}", timeout=30).json()["stats"]
    assert stats["rating_count"] == 1 and stats["rating_avg"] == 4
    mine = requests.get(f"{base}/agents", headers=_auth(page), timeout=30).json()["items"]
    assert [a["name"] for a in mine] == ["sql-explainer"] and mine[0]["source"]


def _auth(page: Any) -> dict[str, str]:
    """The console's own access token, to check what it did through the API."""
    stored = page.evaluate(
        "() => { for (const k of Object.keys(localStorage)) if (k.startsWith('agents-console:')) "
        "return JSON.parse(localStorage.getItem(k)); return null; }"
    )
    assert stored, "the console stored no session"
    return {"Authorization": f"Bearer {stored['access_token']}"}


def test_tokens_page_creates_shows_once_and_revokes(page: Any, live_stack: Any) -> None:
    """Issue 18: the console's tokens page (create, see the secret once, revoke)."""
    base = live_stack.base_url
    _register_in_console(page, base)
    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("heading", name="Access tokens").wait_for()
    page.get_by_text("No tokens yet.").wait_for()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("checkbox", name="agents:read").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("agpat_")
    page.locator("li[data-token-id]").get_by_text("laptop").wait_for()
    # The secret works as a bearer token (scopes runs + agents:read).
    me = requests.get(f"{base}/agents", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert me.status_code == 200
    # Reloading the page never shows the secret again.
    page.reload()
    page.locator("li[data-token-id]").get_by_text("laptop").wait_for()
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke laptop").click()
    page.get_by_text("No tokens yet.").wait_for()
    after = requests.get(f"{base}/agents", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert after.status_code == 401
