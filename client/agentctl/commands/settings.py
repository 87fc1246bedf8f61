"""``agentctl config``: show or set agentctl's own settings."""

from __future__ import annotations

import argparse

from agentctl import config, render
from agentctl.api import Client, CliError
from agentctl.commands import Commands

ORDER = 20


def cmd_config(args: argparse.Namespace, client: Client) -> int:
    values = config.load_config()
    if getattr(args, "config_action", None) == "set":
        if args.key != "base_url":
            raise CliError("unknown setting: only base_url can be set")
        try:
            values["base_url"] = config.check_base_url(args.value)
        except config.BadBaseUrl as exc:
            raise CliError(str(exc)) from None
        config.save_config(values)
    if args.json:
        render.print_json({**values, "effective_base_url": client.base_url, "dir": str(config.config_dir())})
    else:
        render.fields(
            [
                ("config dir", str(config.config_dir())),
                ("base_url", values.get("base_url")),
                ("effective base url", client.base_url),
            ]
        )
    return 0


def register(cli: Commands) -> None:
    sub = cli.command("config", cmd_config, "show or set agentctl settings")
    actions = sub.add_subparsers(dest="config_action", metavar="ACTION")
    actions.add_parser("show", parents=[cli.common])
    setter = actions.add_parser("set", parents=[cli.common], help="config set base_url URL")
    setter.add_argument("key")
    setter.add_argument("value")
