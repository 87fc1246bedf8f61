"""``agentctl mcp-servers``: remote MCP servers agents use, their tools, and your credentials."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands

ORDER = 75

_COLUMNS = [
    ("ID", "id"),
    ("NAME", "name"),
    ("AUTH", "auth.type"),
    ("CONNECTED", "connected"),
    ("PENDING TOOLS", "pending_tools"),
    ("URL", "url"),
]
_TOOL_COLUMNS = [
    ("NAME", "name"),
    ("STATUS", "status"),
    ("ALLOWED", "allowed"),
    ("DESCRIPTION", "description"),
]


def _show(args: argparse.Namespace, server: dict[str, Any]) -> int:
    if args.json:
        render.print_json(server)
        return 0
    render.fields(
        [
            ("id", server.get("id")),
            ("name", server.get("name")),
            ("url", server.get("url")),
            ("auth", server.get("auth", {}).get("type")),
            ("connected", server.get("connected")),
            ("allowed tools", server.get("allowed_tools") or "all"),
            ("pending tools", server.get("pending_tools") or "none"),
        ]
    )
    if server.get("pending_tools"):
        render.info(f"accept them with: agentctl mcp-servers accept {server['id']} TOOL...")
    return 0


def cmd_add(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {"name": args.name, "url": args.url, "auth": {"type": args.auth}}
    if args.allow:
        body["allowed_tools"] = args.allow
    if args.scope:
        body["auth"]["scopes"] = args.scope
    if args.client_id:
        body["auth"]["client_id"] = args.client_id
    return _show(args, client.post("/mcp-servers", json=body))


def cmd_list(args: argparse.Namespace, client: Client) -> int:
    servers = list(client.paginate("/mcp-servers", limit=args.limit))
    if args.json:
        render.print_json(servers)
    else:
        render.table(servers, _COLUMNS, empty="no MCP servers")
    return 0


def cmd_show(args: argparse.Namespace, client: Client) -> int:
    return _show(args, client.get(f"/mcp-servers/{args.server}"))


def cmd_update(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {}
    if args.name:
        body["name"] = args.name
    if args.url:
        body["url"] = args.url
    if args.allow:
        body["allowed_tools"] = args.allow
    if args.allow_all:
        body["allowed_tools"] = None
    return _show(args, client.call("PATCH", f"/mcp-servers/{args.server}", json=body))


def cmd_delete(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/mcp-servers/{args.server}")
    render.info(f"deleted MCP server {args.server}")
    return 0


def cmd_tools(args: argparse.Namespace, client: Client) -> int:
    params = {"refresh": "true"} if args.refresh else None
    listing = client.get(f"/mcp-servers/{args.server}/tools", params=params)
    if args.json:
        render.print_json(listing)
    else:
        render.table(listing["tools"], _TOOL_COLUMNS, empty="the server lists no tools")
    return 0


def cmd_accept(args: argparse.Namespace, client: Client) -> int:
    server = client.post(f"/mcp-servers/{args.server}/tools/accept", json={"tools": args.tool})
    return _show(args, server)


def cmd_connect(args: argparse.Namespace, client: Client) -> int:
    """A bearer token (from --token-stdin or a prompt), or the OAuth flow for an oauth server."""
    server = client.get(f"/mcp-servers/{args.server}")
    kind = server.get("auth", {}).get("type")
    if kind == "oauth":
        started = client.get(f"/mcp-servers/{args.server}/oauth/start")
        if args.json:
            render.print_json(started)
        else:
            render.info("open this URL in a browser to connect (valid 10 minutes):")
            print(started["authorization_url"])
        return 0
    if kind != "bearer":
        render.info("this server needs no credential")
        return 0
    if args.token_stdin:
        token = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        token = getpass.getpass("Bearer token: ")
    status = client.call("PUT", f"/mcp-servers/{args.server}/credential", json={"token": token})
    if args.json:
        render.print_json(status)
    else:
        render.info(f"stored your token for {args.server} (encrypted; it is never shown again)")
    return 0


def cmd_disconnect(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/mcp-servers/{args.server}/credential")
    render.info(f"forgot your credential for {args.server}")
    return 0


def register(cli: Commands) -> None:
    group = cli.group("mcp-servers", "remote MCP servers your agents use (tools, credentials)")
    add = group.command("add", cmd_add, "register a server (Streamable HTTP URL)")
    add.add_argument("--name", required=True)
    add.add_argument("--url", required=True, help="https URL of the server's MCP endpoint")
    add.add_argument("--auth", choices=("none", "bearer", "oauth"), default="none")
    add.add_argument("--allow", action="append", help="only this tool (repeatable)")
    add.add_argument("--scope", action="append", help="OAuth scope to ask for (repeatable)")
    add.add_argument("--client-id", help="OAuth client id registered beforehand")
    group.command("list", cmd_list, "your MCP servers").add_argument("--limit", type=int)
    group.command("show", cmd_show, "one server").add_argument("server")
    update = group.command("update", cmd_update, "rename, move or narrow a server")
    update.add_argument("server")
    update.add_argument("--name")
    update.add_argument("--url")
    update.add_argument("--allow", action="append", help="only this tool (repeatable)")
    update.add_argument("--allow-all", action="store_true", help="drop the allowed-tools list")
    group.command("delete", cmd_delete, "delete a server and every stored credential").add_argument("server")
    tools = group.command("tools", cmd_tools, "the server's tools (cached; --refresh re-reads)")
    tools.add_argument("server")
    tools.add_argument("--refresh", action="store_true")
    accept = group.command("accept", cmd_accept, "let agents use tools the server added since review")
    accept.add_argument("server")
    accept.add_argument("tool", nargs="+")
    connect = group.command("connect", cmd_connect, "store your bearer token, or start the OAuth flow")
    connect.add_argument("server")
    connect.add_argument("--token-stdin", action="store_true", help="read the token from stdin")
    group.command("disconnect", cmd_disconnect, "forget your credential").add_argument("server")
