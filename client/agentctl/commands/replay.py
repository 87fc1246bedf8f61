"""``agentctl runs replay|fork|messages``: reproduce a run at $0, or continue it from a message."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands
from agentctl.commands._shared import finish_run, read_prompt, wait_for_run

ORDER = 41


def _report(run: dict[str, Any]) -> None:
    report = run.get("replay")
    if not report:
        return
    if report.get("matched"):
        render.info(
            f"replay matched: {report.get('steps_replayed')} model responses and "
            f"{report.get('tool_results_replayed')} tool results played back, no model call"
        )
        return
    divergence = report.get("divergence") or {}
    render.info(
        f"replay diverged at step {divergence.get('step')} (message {divergence.get('message_index')}): "
        f"{divergence.get('reason')} — {divergence.get('detail')}"
    )
    if divergence.get("expected") is not None or divergence.get("actual") is not None:
        render.info(f"  expected: {render.cell(divergence.get('expected'), limit=200)}")
        render.info(f"  actual:   {render.cell(divergence.get('actual'), limit=200)}")


def _start(client: Client, path: str, body: dict[str, Any], args: argparse.Namespace) -> int:
    if args.async_:
        body["mode"] = "async"
    run = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    if args.async_:
        run = wait_for_run(client, run, quiet=args.json)
    code = finish_run(run, args.json)
    if not args.json:
        _report(run)
    if run.get("replay") and not run["replay"].get("matched"):
        return 1
    return code


def cmd_runs_replay(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {}
    if args.version:
        body["agent_version"] = args.version
    return _start(client, f"/runs/{args.run}/replay", body, args)


def cmd_runs_fork(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {"at": args.at}
    if args.input is not None:
        body["input"] = read_prompt(args.input)
    if args.version:
        body["agent_version"] = args.version
    return _start(client, f"/runs/{args.run}/fork", body, args)


def _summary(message: dict[str, Any]) -> str:
    parts: list[str] = []
    for part in message.get("parts") or []:
        kind = part.get("part_kind")
        if kind in ("user-prompt", "text"):
            parts.append(
                f"{'user' if kind == 'user-prompt' else 'text'}: {render.cell(part.get('content'), 80)}"
            )
        elif kind == "tool-call":
            parts.append(f"call {part.get('tool_name')}({render.cell(part.get('args'), 60)})")
        elif kind == "tool-return":
            parts.append(f"result {part.get('tool_name')}: {render.cell(part.get('content'), 60)}")
        elif kind:
            parts.append(str(kind))
    return " | ".join(parts)


def cmd_runs_messages(args: argparse.Namespace, client: Client) -> int:
    page = client.get(f"/runs/{args.run}/messages")
    if args.json:
        render.print_json(page)
        return 0
    for item in page.get("items") or []:
        sys.stdout.write(f"{item['index']:>4}  {item['kind']:<8}  {_summary(item.get('message') or {})}\n")
    if not page.get("recorded"):
        render.info("this run has no complete recording: it cannot be replayed or forked")
    else:
        render.info("fork at a request's index: `agentctl runs fork RUN --at N [--input TEXT]`")
    return 0


def register(cli: Commands) -> None:
    runs = cli.group("runs", "inspect runs")
    sub = runs.command(
        "replay", cmd_runs_replay, "re-play a run's recorded responses at $0 and check they match"
    )
    sub.add_argument("run")
    sub.add_argument("--version", type=int, help="replay on this agent version (default: the run's)")
    sub.add_argument("--async", dest="async_", action="store_true", help="queue the replay and wait for it")
    sub = runs.command("fork", cmd_runs_fork, "continue a run from one of its messages with a new model call")
    sub.add_argument("run")
    sub.add_argument(
        "--at", type=int, required=True, help="index of a request (see `agentctl runs messages`)"
    )
    sub.add_argument("--input", help="a new prompt for that request (- reads stdin)")
    sub.add_argument("--version", type=int, help="continue on this agent version (default: the run's)")
    sub.add_argument("--async", dest="async_", action="store_true", help="queue the fork and wait for it")
    sub = runs.command("messages", cmd_runs_messages, "a run's recorded conversation, with indexes")
    sub.add_argument("run")
