"""``agentctl agents``: create and manage agents."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import print_agent_line, resolve_agent
from agentctl.definitions import load_definition, resolve_placeholders

ORDER = 30


def _definition_from(args: argparse.Namespace, client: Client) -> dict[str, Any]:
    definition = load_definition(args.file)
    if getattr(args, "name", None):
        definition["name"] = args.name
    return resolve_placeholders(definition, lambda name: resolve_agent(client, name))


def cmd_agents_create(args: argparse.Namespace, client: Client) -> int:
    if args.template:
        body: dict[str, Any] = {"template": args.template}
        if args.name:
            body["name"] = args.name
    elif args.file:
        body = _definition_from(args, client)
    else:
        raise CliError("give a definition file (-f agent.yaml) or --template NAME")
    agent = client.post(
        "/agents", json=body, headers={"Idempotency-Key": args.idempotency_key or uuid.uuid4().hex}
    )
    if args.json:
        render.print_json(agent)
    else:
        sys.stdout.write(f"{agent['id']}\n")
        print_agent_line("created", agent)
    return 0


def cmd_agents_list(args: argparse.Namespace, client: Client) -> int:
    agents = list(client.paginate("/agents", limit=args.limit))
    if args.json:
        render.print_json(agents)
        return 0
    rows = [
        {**agent, "tool_names": [tool.get("name") for tool in agent.get("tools") or []]} for agent in agents
    ]
    render.table(
        rows,
        [
            ("ID", "id"),
            ("NAME", "name"),
            ("VERSION", "version"),
            ("MODEL", "model.name"),
            ("TOOLS", "tool_names"),
            ("UPDATED", "updated_at"),
        ],
        empty="no agents yet: `agentctl agents create -f agent.yaml`",
    )
    return 0


def cmd_agents_show(args: argparse.Namespace, client: Client) -> int:
    agent = client.get(f"/agents/{resolve_agent(client, args.agent)}")
    if args.json:
        render.print_json(agent)
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(agent, sort_keys=False, allow_unicode=True))
    return 0


def cmd_agents_update(args: argparse.Namespace, client: Client) -> int:
    agent_id = resolve_agent(client, args.agent)
    headers = {"If-Match": str(args.if_match)} if args.if_match is not None else None
    agent = client.call("PUT", f"/agents/{agent_id}", json=_definition_from(args, client), headers=headers)
    if args.json:
        render.print_json(agent)
    else:
        print_agent_line("updated", agent)
    return 0


def cmd_agents_delete(args: argparse.Namespace, client: Client) -> int:
    agent_id = resolve_agent(client, args.agent)
    client.call("DELETE", f"/agents/{agent_id}")
    if args.json:
        render.print_json({"id": agent_id, "deleted": True})
    else:
        render.info(f"deleted agent {agent_id}")
    return 0


def cmd_agents_versions(args: argparse.Namespace, client: Client) -> int:
    page = client.get(f"/agents/{resolve_agent(client, args.agent)}/versions")
    versions = page["items"] if isinstance(page, dict) else page
    if args.json:
        render.print_json(versions)
    else:
        render.table(versions, [("VERSION", "version"), ("CREATED", "created_at"), ("NAME", "name")])
    return 0


def register(cli: Commands) -> None:
    agents = cli.group("agents", "create and manage agents")
    sub = agents.command("create", cmd_agents_create, "create an agent from a YAML/JSON definition")
    sub.add_argument("-f", "--file", help="definition file (YAML or JSON; - for stdin)")
    sub.add_argument("--template", help="create from a built-in template instead")
    sub.add_argument("--name", help="override the definition's name")
    sub.add_argument("--idempotency-key")
    sub = agents.command("list", cmd_agents_list, "list your agents")
    sub.add_argument("--limit", type=int)
    sub = agents.command("show", cmd_agents_show, "show an agent (id or name)")
    sub.add_argument("agent")
    sub = agents.command("update", cmd_agents_update, "replace an agent's definition (new version)")
    sub.add_argument("agent")
    sub.add_argument("-f", "--file", required=True)
    sub.add_argument("--name", help="override the definition's name (rename the agent)")
    sub.add_argument(
        "--if-match", type=int, metavar="VERSION", help="fail with 409 unless this is the current version"
    )
    sub = agents.command("delete", cmd_agents_delete, "delete an agent")
    sub.add_argument("agent")
    sub = agents.command("versions", cmd_agents_versions, "list an agent's versions")
    sub.add_argument("agent")
