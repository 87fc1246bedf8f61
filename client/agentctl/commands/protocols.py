"""``agentctl agents mcp-config`` / ``agents a2a-card``: reach agents from MCP and A2A clients."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands
from agentctl.commands._shared import resolve_agent

ORDER = 31
CLIENT_FORMATS = ("mcp-servers", "vscode")


def _token(args: argparse.Namespace, client: Client, agent_id: str | None) -> str:
    if args.client_token:
        return str(args.client_token)
    if not args.create_token:
        return "${AGENTS_TOKEN}"
    body: dict[str, Any] = {"name": args.token_name or "mcp client", "scopes": ["runs"]}
    if agent_id is not None:
        body["agent_ids"] = [agent_id]
    created = client.post("/auth/tokens", json=body)
    render.info(f"created token {created['token']['id']} (scope runs) for this client; it is in the config")
    return str(created["secret"])


def mcp_config(
    base_url: str, agent_id: str | None, token: str, *, server_name: str, fmt: str
) -> dict[str, Any]:
    """A client configuration for the MCP server (``mcpServers`` as Claude Desktop, Cursor and
    most clients read it; ``servers`` with ``type: http`` for VS Code)."""
    url = base_url.rstrip("/") + ("/mcp" if agent_id is None else f"/mcp/agents/{agent_id}")
    headers = {"Authorization": f"Bearer {token}"}
    if fmt == "vscode":
        return {"servers": {server_name: {"type": "http", "url": url, "headers": headers}}}
    return {"mcpServers": {server_name: {"type": "http", "url": url, "headers": headers}}}


def cmd_agents_mcp_config(args: argparse.Namespace, client: Client) -> int:
    agent_id = resolve_agent(client, args.agent) if args.agent else None
    token = _token(args, client, agent_id)
    name = args.server_name or (f"agent-{args.agent}" if args.agent else "agents-service")
    config = mcp_config(client.base_url, agent_id, token, server_name=name, fmt=args.format)
    sys.stdout.write(json.dumps(config, indent=2) + "\n")
    if token == "${AGENTS_TOKEN}":
        render.info("replace ${AGENTS_TOKEN} with a token of scope runs (or pass --create-token)")
    return 0


def cmd_agents_a2a_card(args: argparse.Namespace, client: Client) -> int:
    agent_id = resolve_agent(client, args.agent)
    card = client.get(f"/a2a/{agent_id}/.well-known/agent-card.json")
    if args.json:
        render.print_json(card)
    else:
        sys.stdout.write(
            f"card:     {client.base_url.rstrip('/')}/a2a/{agent_id}/.well-known/agent-card.json\n"
        )
        sys.stdout.write(f"endpoint: {card.get('url')}\n")
        sys.stdout.write(f"name:     {card.get('name')}\n")
    return 0


def register(cli: Commands) -> None:
    agents = cli.group("agents", "create and manage agents")
    sub = agents.command(
        "mcp-config",
        cmd_agents_mcp_config,
        "print an MCP client configuration for your agents (or one agent)",
    )
    sub.add_argument("agent", nargs="?", help="serve only this agent (id or name); default: all your agents")
    sub.add_argument("--client-token", help="the personal access token to put in the config (scope runs)")
    sub.add_argument(
        "--create-token",
        action="store_true",
        help="create a token of scope runs for this client (restricted to the agent if one is given)",
    )
    sub.add_argument("--token-name", help="the name of the created token (default: 'mcp client')")
    sub.add_argument("--server-name", help="the server's name in the config")
    sub.add_argument("--format", choices=CLIENT_FORMATS, default="mcp-servers", help="config layout")
    sub = agents.command("a2a-card", cmd_agents_a2a_card, "show an agent's A2A card URL and endpoint")
    sub.add_argument("agent")
