"""The console's pages for people (#22), in headless Debian Chromium against the live stack:
the agent builder from a template, files and run artifacts, reopening a conversation,
Stop cancelling on the server, publishing, the marketplace when signed out, and every page
at 390 px without horizontal scrolling. Screenshots of each page go to test-artifacts/."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, _auth, _register_in_console, browser

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with test_browser.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]
assert CHROMIUM_ARGS


@pytest.fixture
def page(browser: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.screenshot(path=str(artifacts_dir / f"{request.node.name}-last.png"), full_page=True)
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def _api_user(base: str) -> tuple[str, dict[str, str]]:
    username = f"api_{uuid.uuid4().hex[:8]}"
    requests.post(
        f"{base}/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=30,
    ).raise_for_status()
    token = requests.post(
        f"{base}/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    return username, {"Authorization": f"Bearer {token}"}


def _agent(base: str, headers: dict[str, str], name: str, tools: list[str] | None = None) -> dict[str, Any]:
    response = requests.post(
        f"{base}/agents",
        headers=headers,
        json={
            "name": name,
            "display_name": name.replace("-", " ").title(),
            "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
            "system_prompt": "Help.",
            "tools": [{"name": t, "enabled": True, "config": {}} for t in tools or []],
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def _overflow(page: Any) -> int:
    """How far the page is wider than the viewport (0 = no horizontal scrolling)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_agent_from_template_field_errors_versions_and_publish(
    page: Any, live_stack: Any, artifacts_dir: Path
) -> None:
    base = live_stack.base_url
    _register_in_console(page, base)
    page.get_by_role("link", name="New agent").click()
    page.get_by_label("Start from a template").select_option("summarizer")
    page.get_by_role("button", name="Use template").click()
    for visible in ("Name", "Model", "System prompt"):
        assert page.get_by_label(visible, exact=True).is_visible()
    assert page.get_by_role("group", name="Tools").is_visible()
    assert "Lowercase letters" in page.locator("#help-name").inner_text()  # the name rule in words
    assert "$" in page.get_by_label("Model", exact=True).inner_text()  # prices in the picker

    # A bad name and a bad limit (structural) with an output schema that is no object (semantic):
    # all errors at once from one 422, each next to its field; nothing stored.
    schema_box = page.get_by_label("Output schema (JSON Schema, optional)")
    template_schema = schema_box.input_value()
    page.get_by_label("Name", exact=True).fill("Not A Valid Name")
    page.get_by_label("Most model requests per run").fill("0")
    schema_box.fill('{"type": "string"}')
    page.get_by_role("button", name="Create agent").click()
    page.locator("#error-name").wait_for()
    assert page.locator("#error-limits").is_visible()
    assert page.locator("#error-output_schema").is_visible()
    assert "lowercase letters a-z" in page.locator("#error-name").inner_text()  # the rule in words
    assert page.get_by_label("Name", exact=True).get_attribute("aria-invalid") == "true"
    assert requests.get(f"{base}/agents", headers=_auth(page), timeout=30).json()["items"] == []
    page.screenshot(path=str(artifacts_dir / "console-builder-errors.png"), full_page=True)

    page.get_by_label("Name", exact=True).fill("digest")
    page.get_by_label("Most model requests per run").fill("5")
    schema_box.fill(template_schema)
    page.get_by_role("checkbox", name=re.compile("^find")).check()
    page.get_by_label("Max Results").fill("7")
    page.get_by_role("button", name="Create agent").click()
    page.get_by_role("heading", name=re.compile("^Agent: ")).wait_for()
    [agent] = requests.get(f"{base}/agents", headers=_auth(page), timeout=30).json()["items"]
    assert agent["name"] == "digest" and agent["output_schema"]  # the template's schema came along
    assert agent["limits"]["max_requests"] == 5
    assert {"name": "find", "enabled": True, "config": {"max_results": 7}} in agent["tools"]

    # A second version, then the history lists both.
    page.get_by_label("System prompt", exact=True).fill("Summarize in one line.")
    page.get_by_role("button", name="Save new version").click()
    page.get_by_role("status").get_by_text("Saved version 2.").wait_for()
    page.get_by_text("Version 1 ·").wait_for()

    # The playground tries the unsaved form (a draft run), and saves nothing.
    page.get_by_label("System prompt", exact=True).fill("Summarize in three lines.")
    page.get_by_label("Input", exact=True).fill("Cloud Functions scale to zero.")
    page.get_by_role("button", name="Try it").click()
    page.get_by_text("(unsaved draft)").wait_for()
    runs = requests.get(f"{base}/runs", params={"agent_id": agent["id"]}, headers=_auth(page), timeout=30)
    assert runs.json()["items"][0]["draft"] is True
    versions = requests.get(f"{base}/agents/{agent['id']}/versions", headers=_auth(page), timeout=30)
    assert [v["version"] for v in versions.json()["items"]] == [2, 1]
    page.get_by_label("System prompt", exact=True).fill("Summarize in one line.")  # back to saved

    # Publish with a category; the listing exists and the page links to it.
    page.get_by_label("Category").select_option("writing")
    page.get_by_label("Summary").fill("One-line digests")
    page.get_by_role("button", name="Publish").click()
    page.get_by_role("status").get_by_text("Published version 2.").wait_for()
    page.screenshot(path=str(artifacts_dir / "console-agent.png"), full_page=True)
    listings = requests.get(f"{base}/marketplace/listings", params={"q": "digest"}, timeout=30).json()[
        "items"
    ]
    [mine] = [item for item in listings if item["agent_id"] == agent["id"]]
    assert mine["category"] == "writing"

    # The owner is not offered Install or Rate on their own listing.
    page.locator(f"a[href='#/market/{mine['id']}']").click()
    page.get_by_text("This is your listing").wait_for()
    assert page.get_by_role("button", name="Install").count() == 0
    assert page.get_by_role("button", name="Submit rating").count() == 0


def test_upload_a_file_and_download_a_run_artifact(page: Any, live_stack: Any, artifacts_dir: Path) -> None:
    base = live_stack.base_url
    _register_in_console(page, base)
    page.get_by_role("link", name="Files").click()
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"remember the milk\n"}]
    )
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").get_by_text("Uploaded notes.txt").wait_for()
    page.get_by_role("cell", name="notes.txt", exact=True).wait_for()
    page.screenshot(path=str(artifacts_dir / "console-files.png"), full_page=True)
    stored = requests.get(f"{base}/workspace/files/notes.txt", headers=_auth(page), timeout=30)
    assert stored.content == b"remember the milk\n"

    agent = _agent(base, _auth(page), "writer", ["file_write"])
    run = requests.post(
        f"{base}/runs",
        headers=_auth(page),
        json={
            "agent_id": agent["id"],
            "input": 'call file_write {"path": "out/report.md", "content": "# Report"}\nsay done',
        },
        timeout=120,
    ).json()
    assert run["status"] == "succeeded", run
    page.goto(f"{base}/#/runs")
    page.get_by_role("cell", name="Writer").first.wait_for()  # agent names, not ids
    page.get_by_role("link", name=run["id"][:8]).click()
    page.get_by_role("heading", name="Artifacts").wait_for()
    with page.expect_download() as download:
        page.get_by_role("link", name="out/report.md").click()
    assert Path(download.value.path()).read_bytes() == b"# Report"
    page.screenshot(path=str(artifacts_dir / "console-run.png"), full_page=True)


def test_reopen_a_conversation_and_stop_cancels_on_the_server(
    page: Any, live_stack: Any, artifacts_dir: Path
) -> None:
    base = live_stack.base_url
    _register_in_console(page, base)
    agent = _agent(base, _auth(page), "talker")
    page.goto(f"{base}/#/chat/{agent['id']}")
    message = page.get_by_role("textbox", name="Message")
    message.fill("say **first** answer")
    page.get_by_role("button", name="Send").click()
    page.locator(".message.assistant .reply strong").get_by_text("first").wait_for()  # Markdown

    # An answer the output limit cut (the offline model's finish directive): the reply says so.
    message.fill("finish length\nsay one two three four five six seven")
    page.get_by_role("button", name="Send").click()
    page.locator(".message.assistant .meta").get_by_text("answer cut at the output limit").wait_for()
    assert page.locator(".message.assistant .reply").last.inner_text().strip() == "one two three four five"

    # Reopen it from the conversations page (a fresh page load) and continue it.
    page.goto(f"{base}/#/sessions")
    page.get_by_role("link", name="say **first** answer").click()
    page.locator(".message.user").get_by_text("say **first** answer").wait_for()
    page.locator(".message.assistant .reply").get_by_text("first answer").wait_for()
    message = page.get_by_role("textbox", name="Message")
    message.fill("say second answer")
    page.get_by_role("button", name="Send").click()
    page.locator(".message.assistant .reply").get_by_text("second answer").wait_for()
    # The reply is on screen before the run's messages are stored: wait for them.
    for _ in range(60):
        [session] = requests.get(f"{base}/sessions", headers=_auth(page), timeout=30).json()["items"]
        if session["message_count"] >= 6:
            break
        time.sleep(0.5)
    assert session["message_count"] == 6

    # Stop: the run is cancelled on the server and the bubble says so.
    message.fill("pause 8\nsay too late")
    page.get_by_role("button", name="Send").click()
    page.locator(".message.assistant .working").last.wait_for()
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile("was cancelled on the server")).wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "console-chat-stopped.png"), full_page=True)
    runs = requests.get(f"{base}/runs", headers=_auth(page), timeout=30).json()["items"]
    assert runs[0]["status"] == "cancelled"


def test_marketplace_signed_out_and_every_page_at_phone_width(
    page: Any, live_stack: Any, artifacts_dir: Path
) -> None:
    base = live_stack.base_url
    _, publisher = _api_user(base)
    agent = _agent(base, publisher, "phone-helper")
    listing = requests.post(
        f"{base}/marketplace/listings",
        headers=publisher,
        json={"agent_id": agent["id"], "category": "productivity"},
        timeout=30,
    ).json()

    # Signed out: no literal null/undefined, "no ratings yet", and sign-in returns to the listing.
    page.goto(f"{base}/#/market/{listing['id']}")
    page.get_by_role("heading", name="Phone Helper").wait_for()
    body = page.locator("main").inner_text()
    assert "null" not in body and "undefined" not in body and "no ratings yet" in body
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("New username").fill(f"web_{uuid.uuid4().hex[:8]}")
    page.get_by_label("Email").fill(f"{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"**/#/market/{listing['id']}")
    page.get_by_role("button", name="Install").click()
    page.get_by_role("status").get_by_text("Installed as").wait_for()
    assert page.locator("#listing-installs").inner_text() == "1"  # stats refreshed
    # Installing again returns the copy I have (no second agent).
    page.get_by_role("button", name="Install").click()
    page.get_by_role("status").get_by_text("Installed as").wait_for()
    assert len(requests.get(f"{base}/agents", headers=_auth(page), timeout=30).json()["items"]) == 1

    # Every page at 390 px: nothing wider than the screen; focus never frames the page.
    pages = [
        "#/agents",
        "#/agents/new",
        "#/chat",
        "#/sessions",
        "#/runs",
        "#/files",
        "#/market",
        f"#/market/{listing['id']}",
        "#/catalog",
        "#/mcp-servers",
        "#/evals",
        "#/webhooks",
        "#/schedules",
        "#/tokens",
    ]
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for hash_ in pages:
            page.goto(f"{base}/{hash_}")
            page.locator("h1").wait_for()
            page.wait_for_load_state("networkidle")
            name = hash_.strip("#/").replace("/", "-") or "home"
            page.screenshot(path=str(artifacts_dir / f"console-{name}-{width}.png"), full_page=True)
            if width == 390:
                assert _overflow(page) <= 0, f"{hash_} scrolls sideways at 390 px"
            outline = page.evaluate(
                "() => { const el = document.activeElement; "
                "return el ? getComputedStyle(el).outlineStyle : 'none'; }"
            )
            assert outline == "none", f"{hash_}: a focus frame after navigation"
