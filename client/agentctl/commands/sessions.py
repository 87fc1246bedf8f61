"""``agentctl sessions``: past conversations (``agentctl run --session`` continues one)."""

from __future__ import annotations

import argparse
import sys

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands
from agentctl.commands._shared import resolve_agent, resolve_session

ORDER = 45


def cmd_sessions_list(args: argparse.Namespace, client: Client) -> int:
    params = {"agent_id": resolve_agent(client, args.agent) if args.agent else None}
    sessions = list(client.paginate("/sessions", params=params, limit=args.limit))
    if args.json:
        render.print_json(sessions)
        return 0
    names = {agent["id"]: agent.get("name") for agent in client.paginate("/agents")} if sessions else {}
    rows = [{**s, "agent": names.get(s.get("agent_id")) or s.get("agent_id")} for s in sessions]
    render.table(
        rows,
        [
            ("ID", "id"),
            ("TITLE", "title"),
            ("AGENT", "agent"),
            ("MESSAGES", "message_count"),
            ("UPDATED", "updated_at"),
        ],
        empty="no sessions: `agentctl run AGENT PROMPT --session new` starts one",
    )
    return 0


def cmd_sessions_show(args: argparse.Namespace, client: Client) -> int:
    detail = client.get(f"/sessions/{resolve_session(client, args.session)}")
    if args.json:
        render.print_json(detail)
        return 0
    session = detail.get("session") or {}
    render.info(f"session {session.get('id')} {session.get('title') or ''}".rstrip())
    labels = {"user": "you", "assistant": "agent", "tool_call": "→", "tool": "←"}
    for message in detail.get("messages") or []:
        role = str(message.get("role"))
        who = labels.get(role, role)
        name = f" {message['name']}" if message.get("name") else ""
        sys.stdout.write(f"{who}{name}: {message.get('content', '')}\n")
    return 0


def cmd_sessions_rm(args: argparse.Namespace, client: Client) -> int:
    session_id = resolve_session(client, args.session)
    client.call("DELETE", f"/sessions/{session_id}")
    if args.json:
        render.print_json({"id": session_id, "deleted": True})
    else:
        render.info(f"deleted session {session_id}")
    return 0


def register(cli: Commands) -> None:
    sessions = cli.group("sessions", "past conversations")
    sub = sessions.command("list", cmd_sessions_list, "list my sessions")
    sub.add_argument("--agent")
    sub.add_argument("--limit", type=int, default=20)
    sub = sessions.command("show", cmd_sessions_show, "show a session's messages (id or title)")
    sub.add_argument("session")
    sub = sessions.command("rm", cmd_sessions_rm, "delete a session (id or title)")
    sub.add_argument("session")
