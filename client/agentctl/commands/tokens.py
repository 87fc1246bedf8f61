"""tokens create | list | revoke: personal access tokens (need a password login)."""

from __future__ import annotations

import argparse

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands

ORDER = 15
SCOPES = ("agents:read", "agents:write", "runs", "marketplace:write", "webhooks", "schedules", "admin")


def cmd_tokens_create(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, object] = {"name": args.name, "scopes": args.scope}
    if args.expires_in_days is not None:
        body["expires_in_days"] = args.expires_in_days
    if args.agent:
        body["agent_ids"] = args.agent
    created = client.post("/auth/tokens", json=body)
    if args.json:
        render.print_json(created)
    else:
        token = created["token"]
        render.info(f"created token {token['name']} ({token['id']}), scopes {', '.join(token['scopes'])}")
        render.info("store the secret now; it is not shown again:")
        print(created["secret"])
    return 0


def cmd_tokens_list(args: argparse.Namespace, client: Client) -> int:
    items = client.get("/auth/tokens")["items"]
    if args.json:
        render.print_json(items)
        return 0
    for token in items:
        expires = token.get("expires_at") or "never"
        used = token.get("last_used_at") or "never"
        print(
            f"{token['id']}  {token['name']}  {token['hint']}  {','.join(token['scopes'])}  "
            f"expires {expires}  last used {used}"
        )
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/auth/tokens/{args.token_id}")
    if not args.json:
        render.info(f"revoked token {args.token_id}")
    return 0


def register(cli: Commands) -> None:
    tokens = cli.group("tokens", "personal access tokens for scripts, CI and other clients")
    sub = tokens.command("create", cmd_tokens_create, "create a token (its secret is shown once)")
    sub.add_argument("name")
    sub.add_argument("--scope", action="append", required=True, choices=SCOPES, help="repeat for several")
    sub.add_argument("--expires-in-days", type=int)
    sub.add_argument("--agent", action="append", help="restrict the token to this agent id (repeatable)")
    tokens.command("list", cmd_tokens_list, "list your tokens (never their secrets)")
    sub = tokens.command("revoke", cmd_tokens_revoke, "revoke a token: it stops working at once")
    sub.add_argument("token_id")
