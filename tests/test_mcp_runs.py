"""Agents that use remote MCP servers (issue 19): runs build pydantic-ai MCP toolsets with the
runner's credential, pause for approval by default, honour allowed_tools and tool review, and
count MCP calls in usage and events. A real MCP server (official ``mcp`` SDK) on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.mcp_server_fixture import TestMcpServer, mcp_server
from tests.test_approvals import decide
from tests.test_async_runs import Queue, Worker, events_of, get_run
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
from tests.test_mcp_servers import register
from tests.test_runs import create_agent, read_all, run
from tools.functions import ROOT


@pytest.fixture(scope="module")
def server() -> Iterator[TestMcpServer]:
    with mcp_server(tokens={"token-of-ada", "token-of-bob"}) as running:
        yield running


def connected_server(
    agents_api: ApiClient, user: TestUser, server: TestMcpServer, token: str, **extra: Any
) -> str:
    created = register(agents_api, user, server.url, auth={"type": "bearer"}, **extra)
    path = f"/mcp-servers/{created['id']}/credential"
    assert agents_api.put(path, token=user.token, json={"token": token}).status_code == 200
    return str(created["id"])


def mcp_agent(agents_api: ApiClient, user: TestUser, server_id: str, **ref: Any) -> str:
    return create_agent(agents_api, user, name="mcp-user", mcp_servers=[{"server_id": server_id, **ref}])


def finished(runs_api: ApiClient, user: TestUser, agent_id: str, prompt: str) -> dict[str, Any]:
    response = run(runs_api, user, agent_id, prompt)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_each_run_sends_its_runners_credential(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser, server: TestMcpServer
) -> None:
    outputs: dict[str, Any] = {}
    for who, token in ((user, "token-of-ada"), (other_user, "token-of-bob")):
        server_id = connected_server(agents_api, who, server, token)
        agent_id = mcp_agent(agents_api, who, server_id, requires_approval=False)
        before = len(server.seen_tokens)
        body = finished(runs_api, who, agent_id, "Who am I?\ncall whoami {}")
        assert body["status"] == "succeeded", body
        assert set(server.seen_tokens[before:]) == {token}  # every request of this run
        outputs[who.id] = body
    assert "token=token-of-ada" in outputs[user.id]["output"]
    assert "token=token-of-bob" in outputs[other_user.id]["output"]
    # An MCP call is a tool call: in the usage and in the events.
    ada = outputs[user.id]
    assert ada["usage"]["tool_calls"] == 1
    events = events_of(runs_api, user, ada["id"])
    calls = [e for e in events if e["type"] == "tool.call"]
    results = [e for e in events if e["type"] == "tool.result"]
    assert [c["data"]["name"] for c in calls] == ["whoami"]
    assert "token-of-ada" in json.dumps(results[0]["data"]["content"])


def test_mcp_tools_require_approval_by_default(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    server_id = connected_server(agents_api, user, server, "token-of-ada")
    agent_id = mcp_agent(agents_api, user, server_id, tool_prefix="tools")
    calls_before = server.calls.count("echo")
    paused = finished(runs_api, user, agent_id, 'Echo it\ncall tools_echo {"text": "approved hello"}')
    assert paused["status"] == "requires_action", paused
    item = paused["required_action"]["items"][0]
    assert item["tool_name"] == "tools_echo" and item["args"] == {"text": "approved hello"}
    assert server.calls.count("echo") == calls_before  # nothing ran before the decision
    resumed = decide(runs_api, user, paused, approve=True)
    assert resumed.status_code == 200, resumed.get_data(as_text=True)
    done = resumed.get_json()
    assert done["status"] == "succeeded", done
    assert "echo: approved hello" in done["output"]
    assert server.calls.count("echo") == calls_before + 1


def test_approval_can_be_turned_off_per_tool(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    server_id = connected_server(agents_api, user, server, "token-of-ada")
    agent_id = mcp_agent(agents_api, user, server_id, requires_approval=["echo"])
    body = finished(runs_api, user, agent_id, 'Add\ncall add {"a": 2, "b": 3}')
    assert body["status"] == "succeeded" and "returned: 5" in body["output"], body
    paused = finished(runs_api, user, agent_id, 'Echo\ncall echo {"text": "x"}')
    assert paused["status"] == "requires_action"


def test_allowed_tools_narrow_what_the_model_gets(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    server_id = connected_server(agents_api, user, server, "token-of-ada", allowed_tools=["echo", "add"])
    agent_id = mcp_agent(agents_api, user, server_id, allowed_tools=["echo"], requires_approval=False)
    calls_before = list(server.calls)
    refused = finished(runs_api, user, agent_id, 'Add\ncall add {"a": 1, "b": 1}')
    assert "Tool add could not be used" in refused["output"], refused
    hidden = finished(runs_api, user, agent_id, "Who\ncall whoami {}")  # outside the registration's list
    assert "Tool whoami could not be used" in hidden["output"], hidden
    allowed = finished(runs_api, user, agent_id, 'Echo\ncall echo {"text": "ok"}')
    assert "echo: ok" in allowed["output"], allowed
    assert server.calls[len(calls_before) :] == ["echo"]


def test_tools_the_server_adds_later_stay_disabled_until_accepted(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    server_id = connected_server(agents_api, user, server, "token-of-ada")
    agent_id = mcp_agent(agents_api, user, server_id, requires_approval=False)
    first = finished(runs_api, user, agent_id, 'Echo\ncall echo {"text": "baseline"}')
    assert first["status"] == "succeeded"  # the first run took the server's tools as reviewed
    server.add_tool("late_tool")
    blocked = finished(runs_api, user, agent_id, 'Late\ncall late_tool {"text": "x"}')
    assert "Tool late_tool could not be used" in blocked["output"], blocked
    assert "late_tool" not in server.calls
    shown = agents_api.get(f"/mcp-servers/{server_id}", token=user.token).get_json()
    assert shown["pending_tools"] == ["late_tool"]
    accepted = agents_api.post(
        f"/mcp-servers/{server_id}/tools/accept", token=user.token, json={"tools": ["late_tool"]}
    )
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    now = finished(runs_api, user, agent_id, 'Late\ncall late_tool {"text": "y"}')
    assert "late_tool: y" in now["output"], now


def test_a_run_without_the_runners_credential_fails_clearly(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, server: TestMcpServer
) -> None:
    created = register(agents_api, user, server.url, auth={"type": "bearer"})
    agent_id = mcp_agent(agents_api, user, created["id"])
    body = finished(runs_api, user, agent_id, "hi")
    assert body["status"] == "failed" and body["error"]["code"] == "mcp_server_not_connected", body
    assert f"/mcp-servers/{created['id']}/credential" in body["error"]["message"]


def test_an_agent_may_only_name_its_owners_servers(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    theirs = register(agents_api, other_user, "https://mcp.example.com/mcp")
    response = agents_api.post(
        "/agents",
        token=user.token,
        json={
            "name": "borrower",
            "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
            "mcp_servers": [{"server_id": theirs["id"]}],
        },
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["fields"][0]["loc"] == "mcp_servers[0].server_id"


_NO_MCP_RUN = """
import json, sys, uuid
from shared.auth.users import create_user
from shared.agents.definition import AgentDefinition
from shared.execution.factory import build_agent
from shared import aio
definition = AgentDefinition.model_validate({
    "name": "plain", "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"}})
built = build_agent(definition, owner_id="u1", run_id="r1")
result = aio.run(built.agent.run("hi", deps=built.deps, model_settings=built.model_settings))
assert "Offline reply" in str(result.output), result.output
loaded = [m for m in ("fastmcp", "mcp", "pydantic_ai.mcp") if m in sys.modules]
import shared.mcp_servers.toolsets  # the check can fail: this is what an MCP agent loads
print(json.dumps({"plain": loaded, "mcp": "fastmcp" in sys.modules and "pydantic_ai.mcp" in sys.modules}))
"""


def test_the_mcp_client_is_imported_only_by_runs_of_agents_with_mcp_servers(
    service_env: dict[str, str],
) -> None:
    env = {**os.environ, **service_env}
    done = subprocess.run(
        [sys.executable, "-c", _NO_MCP_RUN], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"plain": [], "mcp": True}


def test_a_marketplace_install_asks_its_installer_to_connect_each_server(
    agents_api: ApiClient,
    runs_api: ApiClient,
    marketplace_api: ApiClient,
    user: TestUser,
    other_user: TestUser,
    server: TestMcpServer,
) -> None:
    server_id = connected_server(agents_api, user, server, "token-of-ada", allowed_tools=["whoami", "echo"])
    agent_id = mcp_agent(agents_api, user, server_id, requires_approval=False)
    publish = {"agent_id": agent_id, "category": "other", "tags": []}
    refused = marketplace_api.post("/marketplace/listings", token=user.token, json=publish)
    assert refused.status_code == 422  # its tools were never listed: the manifest could not show them
    assert agents_api.get(f"/mcp-servers/{server_id}/tools", token=user.token).status_code == 200
    listing = marketplace_api.post("/marketplace/listings", token=user.token, json=publish)
    assert listing.status_code == 201, listing.get_data(as_text=True)
    bundle = marketplace_api.get(f"/marketplace/listings/{listing.get_json()['id']}/download").get_json()
    (entry,) = bundle["manifest"]["mcp_servers"]
    assert entry["url"] == server.url and entry["auth_type"] == "bearer"
    assert sorted(t["name"] for t in entry["tools"]) == ["echo", "whoami"]
    assert (
        "token-of-ada" not in json.dumps(bundle) and f"mcp:{server.url}" in bundle["manifest"]["permissions"]
    )

    # A name the installer already uses refuses the install before anything is registered.
    clash = create_agent(agents_api, other_user, name="mcp-user")
    refused_install = marketplace_api.post(
        f"/marketplace/listings/{listing.get_json()['id']}/install", token=other_user.token
    )
    assert refused_install.status_code == 409 and refused_install.get_json()["error"]["code"] == "name_taken"
    assert agents_api.get("/mcp-servers", token=other_user.token).get_json()["items"] == []
    assert agents_api.delete(f"/agents/{clash}", token=other_user.token).status_code == 204
    installed = marketplace_api.post(
        f"/marketplace/listings/{listing.get_json()['id']}/install", token=other_user.token
    )
    assert installed.status_code == 201, installed.get_data(as_text=True)
    copy = installed.get_json()
    (theirs,) = copy["source"]["mcp_servers"]
    assert theirs != server_id and copy["mcp_servers"][0]["server_id"] == theirs
    registration = agents_api.get(f"/mcp-servers/{theirs}", token=other_user.token).get_json()
    assert registration["url"] == server.url and registration["connected"] is False
    not_yet = finished(runs_api, other_user, copy["id"], "Who\ncall whoami {}")
    assert not_yet["error"]["code"] == "mcp_server_not_connected"
    agents_api.put(
        f"/mcp-servers/{theirs}/credential", token=other_user.token, json={"token": "token-of-bob"}
    )
    before = len(server.seen_tokens)
    ran = finished(runs_api, other_user, copy["id"], "Who\ncall whoami {}")
    assert "token=token-of-bob" in ran["output"] and set(server.seen_tokens[before:]) == {"token-of-bob"}
    # Only the tools the manifest listed were accepted for the installer: a tool outside it waits.
    hidden = finished(runs_api, other_user, copy["id"], 'Add\ncall add {"a": 1, "b": 2}')
    assert "Tool add could not be used" in hidden["output"]
    assert (
        "add" in agents_api.get(f"/mcp-servers/{theirs}", token=other_user.token).get_json()["pending_tools"]
    )


def test_stream_and_async_runs_pause_and_resume_an_mcp_call(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    server: TestMcpServer,
    queue: Queue,
    worker: Worker,
) -> None:
    server_id = connected_server(agents_api, user, server, "token-of-ada")
    agent_id = mcp_agent(agents_api, user, server_id)
    prompt = 'Echo\ncall echo {"text": "streamed"}'
    events = read_all(run(runs_api, user, agent_id, prompt, mode="stream"))
    assert events[-1].event == "run.requires_action"
    resumed = read_all(decide(runs_api, user, events[-1].data["run"], mode="stream"))
    results = [e for e in resumed if e.event == "tool.result"]
    assert (
        results and "echo: streamed" in json.dumps(results[0].data) and resumed[-1].event == "run.completed"
    )

    queued = run(runs_api, user, agent_id, 'Echo\ncall echo {"text": "queued"}', mode="async").get_json()
    assert worker.deliver(queue.run_messages()[0]) == 200
    paused = get_run(runs_api, user, queued["id"])
    assert paused["status"] == "requires_action", paused
    assert decide(runs_api, user, paused).status_code == 202
    assert worker.deliver(queue.run_messages()[0]) == 200
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "succeeded" and "echo: queued" in final["output"], final
    assert final["usage"]["tool_calls"] == 1


def test_an_installed_copy_may_not_loosen_the_publishers_mcp_approvals() -> None:
    from shared.agents.definition import AgentDefinition
    from shared.agents.validation import mcp_approval_markers, publisher_approval_errors

    def definition(requires: Any) -> AgentDefinition:
        return AgentDefinition.model_validate(
            {
                "name": "copy",
                "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
                "mcp_servers": [{"server_id": "s1", "requires_approval": requires}],
            }
        )

    everything = mcp_approval_markers(definition(True))
    some = mcp_approval_markers(definition(["echo"]))
    assert everything == ["mcp:s1:*"] and some == ["mcp:s1:echo"]
    assert publisher_approval_errors(definition(True), everything) == []
    assert publisher_approval_errors(definition(["echo", "add"]), some) == []
    for looser, required in ((False, everything), (["echo"], everything), (False, some), (["add"], some)):
        (error,) = publisher_approval_errors(definition(looser), required)
        assert error["loc"] == "mcp_servers[0].requires_approval"
