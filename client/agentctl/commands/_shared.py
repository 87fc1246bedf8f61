"""Helpers several command modules share: agent references, prompts, run output and polling."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.definitions import AGENT_ID

TERMINAL_RUN_STATUSES = {"succeeded", "failed", "cancelled"}
TERMINAL_RUN_EVENTS = {"run.completed", "run.failed", "run.cancelled"}
POLL_SECONDS = 0.5


def resolve_agent(client: Client, ref: str) -> str:
    """An agent id, or the id of the caller's agent with that name."""
    if AGENT_ID.match(ref):
        return ref
    matches = [agent for agent in client.paginate("/agents") if agent.get("name") == ref]
    if not matches:
        raise CliError(f"no agent named '{ref}' (use its id, or see `agentctl agents list`)")
    if len(matches) > 1:
        raise CliError(f"several agents are named '{ref}': use an id")
    return str(matches[0]["id"])


def resolve_session(client: Client, ref: str, agent_id: str | None = None) -> str:
    """A session id, or the id of my session with that title (the newest if several)."""
    if AGENT_ID.match(ref):
        return ref
    params = {"agent_id": agent_id} if agent_id else None
    for session in client.paginate("/sessions", params=params):  # newest first
        if session.get("title") == ref:
            return str(session["id"])
    raise CliError(f"no session titled '{ref}' (see `agentctl sessions list`; `--session new` starts one)")


def read_prompt(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def read_password(args: argparse.Namespace, confirm: bool = False) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("AGENTCTL_PASSWORD"):
        return os.environ["AGENTCTL_PASSWORD"]
    import getpass

    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise CliError("passwords do not match")
    return password


# Shown next to a run whose answer the output-token limit cut (finish_reason "length").
CUT_NOTE = "answer cut at the output limit"


def is_cut(run: dict[str, Any]) -> bool:
    """A run that succeeded with the answer the output-token limit cut."""
    return run.get("finish_reason") == "length" and run.get("status") == "succeeded"


def run_summary(run: dict[str, Any]) -> str:
    usage = run.get("usage") or {}
    parts = [f"run {run.get('id')} {run.get('status')}"]
    if usage:
        parts.append(render.usage_line(usage))
    if run.get("cost_usd") is not None:
        parts.append(render.money(run["cost_usd"]))
    if is_cut(run):
        parts.append(CUT_NOTE)
    return " · ".join(parts)


def output_text(output: Any) -> str:
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    import json

    return json.dumps(output, indent=2, ensure_ascii=False)


def finish_run(run: dict[str, Any], as_json: bool, printed_text: bool = False) -> int:
    """Print a finished run (its output, or the error) and return the exit code."""
    if as_json:
        render.print_json(run)
    elif not printed_text:
        text = output_text(run.get("output"))
        if text:
            sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    if run.get("status") == "succeeded":
        if not as_json:
            render.info(run_summary(run))
        return 0
    error = run.get("error") or {}
    message = error.get("message") or run.get("status")
    code = error.get("code") or run.get("status")
    sys.stderr.write(f"error: run {run.get('id')} {run.get('status')}: {message} ({code})\n")
    return 1


def wait_for_run(client: Client, run: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Poll the run until it finishes, with a status line on stderr."""
    progress = None if quiet else render.Progress()
    try:
        while run.get("status") not in TERMINAL_RUN_STATUSES:
            if progress:
                attempts = run.get("attempts") or 0
                retry = f" (attempt {attempts})" if attempts and attempts > 1 else ""
                progress.update(f"run {run['id']}: {run.get('status')}{retry}")
            time.sleep(POLL_SECONDS)
            run = client.get(f"/runs/{run['id']}")
        if progress:
            progress.update(f"run {run['id']}: {run.get('status')}")
    finally:
        if progress:
            progress.done()
    return run


def print_agent_line(verb: str, agent: dict[str, Any]) -> None:
    render.info(f"{verb} agent {agent.get('name')} ({agent.get('id')}) version {agent.get('version')}")
