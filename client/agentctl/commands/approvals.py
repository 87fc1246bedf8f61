"""``agentctl runs approve``: decide the tool calls a paused (``requires_action``) run waits for.

``agentctl run`` also asks on a terminal when the run it streams pauses (:func:`ask`).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import finish_run, wait_for_run

ORDER = 41
WAITING = "requires_action"


def pending_items(run: dict[str, Any]) -> list[dict[str, Any]]:
    action = run.get("required_action") or {}
    decided = {d.get("tool_call_id") for d in run.get("approvals") or []}
    return [i for i in action.get("items") or [] if i.get("tool_call_id") not in decided]


def describe(item: dict[str, Any]) -> str:
    agent = f" (asked by {item['agent_name']})" if item.get("agent_name") else ""
    return f"{item.get('tool_name')}({render.cell(item.get('args'), limit=400)}){agent}"


def decision(item: dict[str, Any], approve: bool, reason: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tool_call_id": item["tool_call_id"],
        "approve": approve,
        "args_sha256": item["args_sha256"],
    }
    if reason:
        body["reason"] = reason
    return body


def ask(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Ask on the terminal about each pending call (default: deny)."""
    decisions: list[dict[str, Any]] = []
    for item in pending_items(run):
        sys.stderr.write(f"\nthe agent wants to call {describe(item)}\n")
        approve = _prompt("approve? [y/N] ").lower() in ("y", "yes")
        reason = None if approve else (_prompt("reason (optional): ") or None)
        decisions.append(decision(item, approve, reason))
    return decisions


def _prompt(question: str) -> str:
    """Ask on stderr (stdout carries the run's output) and read one line from the terminal."""
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise CliError("no answer: the decision was not sent")
    return line.strip()


def decide(client: Client, run_id: str, decisions: list[dict[str, Any]], mode: str | None) -> Any:
    body: dict[str, Any] = {"decisions": decisions}
    if mode:
        body["mode"] = mode
    return client.post(f"/runs/{run_id}/approvals", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})


def cmd_runs_approve(args: argparse.Namespace, client: Client) -> int:
    run = client.get(f"/runs/{args.run}")
    if run.get("status") != WAITING:
        raise CliError(f"run {args.run} is {run.get('status')}: it does not wait for a decision")
    items = pending_items(run)
    if args.tool_call:
        wanted = set(args.tool_call)
        items = [i for i in items if i.get("tool_call_id") in wanted]
        missing = wanted - {i.get("tool_call_id") for i in items}
        if missing:
            raise CliError(f"run {args.run} does not wait for {', '.join(sorted(missing))}")
    if not args.json:
        for item in items:
            render.info(f"{'deny' if args.deny else 'approve'} {describe(item)}")
    decisions = [decision(i, not args.deny, args.reason) for i in items]
    # A script wants the resulting run as JSON: a streamed run resumes synchronously here.
    mode = args.mode or ("async" if run.get("mode") == "async" else "sync")
    result = decide(client, args.run, decisions, mode)
    if args.wait and result.get("status") not in (WAITING,):
        result = wait_for_run(client, result, quiet=args.json)
    if result.get("status") == WAITING:
        if args.json:
            render.print_json(result)
        else:
            render.info(f"run {args.run} still waits for {len(pending_items(result))} decision(s)")
        return 0
    if result.get("status") in ("queued", "running"):
        if args.json:
            render.print_json(result)
        else:
            render.info(
                f"run {args.run} {result.get('status')}: follow it with `agentctl runs events {args.run} -f`"
            )
        return 0
    return finish_run(result, args.json)


def register(cli: Commands) -> None:
    runs = cli.group("runs", "inspect runs")
    sub = runs.command("approve", cmd_runs_approve, "approve (or --deny) the tool calls a run waits for")
    sub.add_argument("run")
    sub.add_argument("--deny", action="store_true", help="deny instead of approving")
    sub.add_argument("--reason", help="why (a denial's reason is passed to the model)")
    sub.add_argument("--tool-call", action="append", metavar="ID", help="decide only this call (repeatable)")
    sub.add_argument(
        "--mode", choices=["sync", "async"], help="how the run resumes (default: async if the run was)"
    )
    sub.add_argument("--wait", action="store_true", help="wait until a queued continuation finishes")
