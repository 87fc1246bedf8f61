"""``agentctl templates``: the built-in agent definitions (``agents create --template``)."""

from __future__ import annotations

import argparse
import sys
from urllib.parse import quote

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands

ORDER = 35


def cmd_templates_list(args: argparse.Namespace, client: Client) -> int:
    templates = client.get("/templates", auth=None)
    templates = templates.get("items", templates) if isinstance(templates, dict) else templates
    if args.json:
        render.print_json(templates)
    else:
        rows = [
            {**t, "model": ((t.get("definition") or {}).get("model") or {}).get("name")} for t in templates
        ]
        render.table(
            rows,
            [("NAME", "name"), ("MODEL", "model"), ("DESCRIPTION", "description")],
            empty="no templates",
        )
    return 0


def cmd_templates_show(args: argparse.Namespace, client: Client) -> int:
    template = client.get(f"/templates/{quote(args.name, safe='')}", auth=None)
    if args.json:
        render.print_json(template)
    else:
        import yaml

        render.info(f"{template.get('name')}: {template.get('description') or ''}".rstrip(": "))
        render.info(f"create it: agentctl agents create --template {template.get('name')} --name NAME")
        sys.stdout.write(yaml.safe_dump(template.get("definition"), sort_keys=False, allow_unicode=True))
    return 0


def register(cli: Commands) -> None:
    templates = cli.group("templates", "built-in agent templates")
    templates.command("list", cmd_templates_list, "list the templates")
    sub = templates.command("show", cmd_templates_show, "show a template's definition (YAML)")
    sub.add_argument("name")
