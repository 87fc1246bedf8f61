"""agentctl's commands: one module per command group, each plugged in through ``register``.

Adding a resource to the CLI is adding a module here (see docs/cli.md, "Adding a command")::

    # client/agentctl/commands/widgets.py
    from agentctl.commands import Commands

    ORDER = 60  # optional: where the group appears in `agentctl --help` (default 100)

    def register(cli: Commands) -> None:
        widgets = cli.group("widgets", "manage widgets")
        sub = widgets.command("list", cmd_widgets_list, "list your widgets")
        sub.add_argument("--limit", type=int)

Every module in this package whose name does not start with ``_`` is imported by
:func:`register_all` and must define ``register(cli)``; its handlers take
``(args, client)`` and return an exit code (``None`` means 0).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from agentctl.api import Client

Handler = Callable[[argparse.Namespace, Client], int | None]


class Group:
    """``agentctl NAME ACTION …``: a resource whose actions are subcommands."""

    def __init__(self, actions: Any, common: argparse.ArgumentParser) -> None:
        self._actions = actions
        self._common = common

    def command(self, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        """Add ``agentctl GROUP NAME``; returns its parser for the arguments."""
        sub = self._actions.add_parser(name, help=help_text, description=help_text, parents=[self._common])
        sub.set_defaults(handler=handler)
        return sub


class Commands:
    """What each command module's ``register`` receives: adds top-level commands and groups."""

    def __init__(self, commands: Any, common: argparse.ArgumentParser) -> None:
        self._commands = commands
        self.common = common  # the --base-url / --json flags every command accepts
        self._groups: dict[str, Group] = {}

    def command(self, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        """Add ``agentctl NAME`` (no action level); returns its parser for the arguments."""
        sub = self._commands.add_parser(name, help=help_text, description=help_text, parents=[self.common])
        sub.set_defaults(handler=handler)
        return sub

    def group(self, name: str, help_text: str = "") -> Group:
        """``agentctl NAME ACTION``; a second call with the same name extends the same group
        (so a feature can add e.g. ``runs approve`` from its own module)."""
        if name not in self._groups:
            parser = self._commands.add_parser(name, help=help_text, description=help_text)
            actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
            self._groups[name] = Group(actions, self.common)
        return self._groups[name]


def command_modules() -> list[Any]:
    """This package's public modules, in ``ORDER`` (then name) order."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda module: (getattr(module, "ORDER", 100), module.__name__))


def register_all(cli: Commands) -> None:
    for module in command_modules():
        module.register(cli)
