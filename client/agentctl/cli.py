"""``agentctl``: the command-line client (argparse; see docs/cli.md).

Human output by default, ``--json`` for scripts. Errors are one line on stderr and a
non-zero exit code: 1 for an API or client error, 2 for bad usage, 130 when interrupted.
The commands themselves live in :mod:`agentctl.commands`, one module per group.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agentctl import __version__, config
from agentctl.api import Client, CliError
from agentctl.commands import Commands, register_all


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a flag given before the subcommand from being reset by the subparser.
    common.add_argument("--base-url", default=argparse.SUPPRESS, help="service URL (env AGENTCTL_BASE_URL)")
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    parser = argparse.ArgumentParser(
        prog="agentctl", description="Command-line client of the agents service.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"agentctl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_all(Commands(commands, common))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    try:
        client = Client(config.resolve_base_url(getattr(args, "base_url", None)))
    except config.BadBaseUrl as exc:
        if args.command != "config":  # `config set base_url` is how a bad one gets fixed
            sys.stderr.write(f"error: {exc}\n")
            return 2
        client = Client(config.DEFAULT_BASE_URL)
    try:
        return args.handler(args, client) or 0
    except CliError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
