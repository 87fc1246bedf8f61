"""Our agents as an MCP server (issue 19), driven by the official `mcp` Python client through
the gateway and the real functions: tools/list, a call with structured output, progress
notifications, tool errors, the one-agent endpoint (and its /agents/{id}/mcp redirect) with
a token restricted to that agent, both protocol generations (2026-07-28 single exchanges and
the initialize handshake)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import LiveStack, TestUser
from tests.test_runs import definition

REPORT_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["title", "score"],
}


def _post(stack: LiveStack, path: str, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        stack.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _agent(stack: LiveStack, user: TestUser, name: str, **overrides: Any) -> str:
    created = _post(stack, "/agents", user.token, definition(name, **overrides))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _pat(stack: LiveStack, user: TestUser, **extra: Any) -> str:
    made = _post(stack, "/auth/tokens", user.token, {"name": "mcp", "scopes": ["runs"], **extra})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


async def _with_client(url: str, token: str, mode: str, work: Callable[[Any], Any]) -> Any:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
        return await work(client)


@pytest.fixture
def mcp_user(live_stack: LiveStack, make_user: Callable[..., TestUser]) -> dict[str, Any]:
    user = make_user()
    return {
        "user": user,
        "writer": _agent(live_stack, user, "writer", description="Writes things."),
        "reporter": _agent(live_stack, user, "reporter", output_schema=REPORT_SCHEMA),
        "searcher": _agent(
            live_stack, user, "searcher", tools=[{"name": "grep", "enabled": True, "config": {}}]
        ),
        "token": _pat(live_stack, user),
    }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_mcp_client_lists_calls_and_gets_structured_output(
    live_stack: LiveStack, mcp_user: dict[str, Any], mode: str
) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    async def work(client: Any) -> dict[str, Any]:
        listed = await client.list_tools()
        text = await client.call_tool("writer", {"input": "hello from mcp"})
        structured = await client.call_tool(
            "reporter", {"input": 'output {"title": "Q3", "score": 7}'}, progress_callback=on_progress
        )
        searched = await client.call_tool(
            "searcher", {"input": 'call grep {"pattern": "x"}'}, progress_callback=on_progress
        )
        return {"listed": listed, "text": text, "structured": structured, "searched": searched}

    out = asyncio.run(_with_client(live_stack.base_url + "/mcp", mcp_user["token"], mode, work))
    tools = {t.name: t for t in out["listed"].tools}
    assert set(tools) == {"writer", "reporter", "searcher"}
    assert tools["writer"].description == "Writes things."
    assert tools["writer"].input_schema["required"] == ["input"]
    assert tools["writer"].output_schema is None
    assert tools["reporter"].output_schema == REPORT_SCHEMA
    text = out["text"]
    assert not text.is_error
    assert text.content[0].text == 'Offline reply to "hello from mcp". (message 1 of this conversation)'
    structured = out["structured"]
    assert not structured.is_error
    assert structured.structured_content == {"title": "Q3", "score": 7}
    searched = out["searched"]
    assert not searched.is_error, searched.content
    assert "Tool grep returned" in searched.content[0].text
    assert any(message == "calling grep" for _, message in progress), progress
    # Every call is a normal run, marked as started from MCP.
    headers = {"Authorization": f"Bearer {mcp_user['user'].token}"}
    runs = requests.get(live_stack.base_url + "/runs?limit=100", headers=headers, timeout=30).json()["items"]
    assert len(runs) == 3 and {r["source"] for r in runs} == {"mcp"}
    assert {r["status"] for r in runs} == {"succeeded"}
    assert text.meta["run_id"] in {r["id"] for r in runs}


def test_mcp_errors_are_tool_errors(live_stack: LiveStack, mcp_user: dict[str, Any]) -> None:
    from mcp.shared.exceptions import MCPError

    async def work(client: Any) -> dict[str, Any]:
        failed = await client.call_tool("writer", {"input": "fail 500"})
        bad_args = await client.call_tool("writer", {"prompt": "no input key"})
        try:
            await client.call_tool("nobody", {"input": "x"})
            unknown: Any = None
        except MCPError as exc:
            unknown = exc
        return {"failed": failed, "bad_args": bad_args, "unknown": unknown}

    out = asyncio.run(_with_client(live_stack.base_url + "/mcp", mcp_user["token"], "auto", work))
    assert out["failed"].is_error
    assert out["failed"].content[0].text.startswith("model_unavailable: ")
    assert out["bad_args"].is_error and "invalid arguments" in out["bad_args"].content[0].text
    assert out["unknown"] is not None and "Unknown tool" in str(out["unknown"])


def test_one_agent_endpoint_with_a_restricted_token(live_stack: LiveStack, mcp_user: dict[str, Any]) -> None:
    user = mcp_user["user"]
    restricted = _pat(live_stack, user, agent_ids=[mcp_user["writer"]])

    async def work(client: Any) -> dict[str, Any]:
        listed = await client.list_tools()
        called = await client.call_tool("writer", {"input": "just me"})
        return {"names": [t.name for t in listed.tools], "called": called}

    # /agents/{id}/mcp answers 308 to /mcp/agents/{id}; the client follows it (same origin).
    url = f"{live_stack.base_url}/agents/{mcp_user['writer']}/mcp"
    out = asyncio.run(_with_client(url, restricted, "legacy", work))
    assert out["names"] == ["writer"]
    assert not out["called"].is_error
    # The restricted token sees only its agent on /mcp too, and nothing of another agent.
    listed = asyncio.run(
        _with_client(live_stack.base_url + "/mcp", restricted, "auto", lambda c: c.list_tools())
    )
    assert [t.name for t in listed.tools] == ["writer"]
    other = requests.post(
        f"{live_stack.base_url}/mcp/agents/{mcp_user['reporter']}",
        data=b"{}",
        headers={
            "Authorization": f"Bearer {restricted}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        timeout=30,
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "agent_not_allowed"


def test_mcp_http_envelope_errors(live_stack: LiveStack, mcp_user: dict[str, Any]) -> None:
    url = live_stack.base_url + "/mcp"
    token = mcp_user["token"]
    accept = {"Accept": "application/json, text/event-stream"}
    assert requests.post(url, json={}, headers=accept, timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {token}", **accept}
    no_sse = requests.post(url, json={}, headers={**auth, "Accept": "application/json"}, timeout=30)
    assert no_sse.status_code == 406
    not_rpc = requests.post(url, json={"hello": 1}, headers=auth, timeout=30)
    assert not_rpc.status_code == 400 and not_rpc.json()["error"]["code"] == "invalid_jsonrpc"
    text = requests.post(url, data=b"x", headers={**auth, "Content-Type": "text/plain"}, timeout=30)
    assert text.status_code == 415
    # Stateless: no GET stream, no sessions.
    assert requests.get(url, headers=auth, timeout=30).status_code == 405
    wrong_scope = _post(
        live_stack, "/auth/tokens", mcp_user["user"].token, {"name": "r", "scopes": ["agents:read"]}
    )
    read_only = wrong_scope.json()["secret"]
    denied = requests.post(
        url, json={}, headers={**accept, "Authorization": f"Bearer {read_only}"}, timeout=30
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"


def test_typescript_sdk_client(live_stack: LiveStack, mcp_user: dict[str, Any]) -> None:
    """The official `@modelcontextprotocol/sdk` client (initialize handshake, stateless:
    no session id), from tests/clients/package-lock.json."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    clients = Path(__file__).parent / "clients"
    if shutil.which("node") is None or not (clients / "node_modules" / "@modelcontextprotocol").is_dir():
        pytest.fail("node and tests/clients/node_modules are required (make install)")
    done = subprocess.run(
        ["node", "mcp_check.mjs", live_stack.base_url, mcp_user["token"]],
        cwd=clients,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["session"] is None  # stateless: any instance answers any request
    assert report["tools"] == [
        {"name": "reporter", "output_schema": REPORT_SCHEMA},
        {"name": "searcher", "output_schema": None},
        {"name": "writer", "output_schema": None},
    ]
    assert report["searcher"]["is_error"] is False
    assert "Tool grep returned" in report["searcher"]["text"]
    assert "calling grep" in report["searcher"]["progress"]
    assert report["reporter"] == {"is_error": False, "structured": {"title": "TS", "score": 3}}
    assert report["failed"]["is_error"] is True
    assert report["failed"]["text"].startswith("model_unavailable: ")
    assert report["unknown"]["code"] == -32602 and "Unknown tool" in report["unknown"]["message"]


def test_cli_mcp_config_works_in_a_client(live_stack: LiveStack, tmp_path: Any) -> None:
    """`agentctl agents mcp-config NAME --create-token` prints a config whose URL and token
    (restricted to that agent) work in the official client; `agents a2a-card` shows the card."""
    import json

    from tests.test_cli import Cli

    cli = Cli(live_stack.base_url, tmp_path)
    cli.signup()
    spec = tmp_path / "agent.json"
    spec.write_text(json.dumps(definition("cli-mcp", description="From the CLI.")))
    agent_id = cli("agents", "create", "-f", str(spec)).out.strip()
    config = json.loads(cli("agents", "mcp-config", "cli-mcp", "--create-token").out)
    server = config["mcpServers"]["agent-cli-mcp"]
    assert server["url"] == f"{live_stack.base_url}/mcp/agents/{agent_id}"
    token = server["headers"]["Authorization"].removeprefix("Bearer ")
    assert token.startswith("agpat_")
    listed = asyncio.run(_with_client(server["url"], token, "auto", lambda c: c.list_tools()))
    assert [t.name for t in listed.tools] == ["cli-mcp"]
    vscode = json.loads(cli("agents", "mcp-config", "--format", "vscode").out)
    assert vscode["servers"]["agents-service"]["url"] == f"{live_stack.base_url}/mcp"
    card = cli("agents", "a2a-card", "cli-mcp").out
    assert f"/a2a/{agent_id}/.well-known/agent-card.json" in card
    assert f"endpoint: {live_stack.base_url}/a2a/{agent_id}" in card
