"""``agentctl schedules``: run agents on a cron schedule."""

from __future__ import annotations

import argparse
from typing import Any

from agentctl import render
from agentctl.api import Client
from agentctl.commands import Commands
from agentctl.commands._shared import read_prompt, resolve_agent, run_summary

ORDER = 75

_COLUMNS = [
    ("ID", "id"),
    ("STATUS", "status"),
    ("CRON", "cron"),
    ("TIME ZONE", "timezone"),
    ("NEXT RUN", "next_run_at"),
    ("AGENT", "agent_id"),
    ("FAILURES", "consecutive_failures"),
]
_RUN_COLUMNS = [("ID", "id"), ("STATUS", "status"), ("CREATED", "created_at"), ("FINISHED", "finished_at")]


def _show(schedule: dict[str, Any]) -> None:
    pairs: list[tuple[str, Any]] = [
        ("id", schedule.get("id")),
        ("agent", schedule.get("agent_id")),
        ("cron", f"{schedule.get('cron')} ({schedule.get('timezone')})"),
        ("status", " ".join(filter(None, [schedule.get("status"), schedule.get("paused_reason")]))),
        ("next run", schedule.get("next_run_at")),
        ("overlap", schedule.get("overlap")),
        ("failures", f"{schedule.get('consecutive_failures')} of {schedule.get('max_consecutive_failures')}"),
        ("last run", schedule.get("last_run_id")),
        ("skipped", schedule.get("skipped_occurrences")),
    ]
    render.fields(pairs)


def _print(args: argparse.Namespace, schedule: dict[str, Any]) -> int:
    if args.json:
        render.print_json(schedule)
    else:
        _show(schedule)
    return 0


def cmd_create(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {
        "agent_id": resolve_agent(client, args.agent),
        "cron": args.cron,
        "timezone": args.timezone,
        "input": read_prompt(args.input),
        "overlap": args.overlap,
        "enabled": not args.paused,
    }
    if args.session:
        body["session_id"] = args.session
    if args.max_failures:
        body["max_consecutive_failures"] = args.max_failures
    return _print(args, client.post("/schedules", json=body))


def cmd_list(args: argparse.Namespace, client: Client) -> int:
    items = list(client.paginate("/schedules", limit=args.limit))
    if args.json:
        render.print_json(items)
    else:
        render.table(items, _COLUMNS, empty="no schedules")
    return 0


def cmd_show(args: argparse.Namespace, client: Client) -> int:
    return _print(args, client.get(f"/schedules/{args.schedule}"))


def cmd_pause(args: argparse.Namespace, client: Client) -> int:
    return _print(args, client.call("PATCH", f"/schedules/{args.schedule}", json={"enabled": False}))


def cmd_resume(args: argparse.Namespace, client: Client) -> int:
    return _print(args, client.call("PATCH", f"/schedules/{args.schedule}", json={"enabled": True}))


def cmd_delete(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/schedules/{args.schedule}")
    render.info(f"deleted schedule {args.schedule}")
    return 0


def cmd_run_now(args: argparse.Namespace, client: Client) -> int:
    run = client.post(f"/schedules/{args.schedule}/run-now")
    if args.json:
        render.print_json(run)
    else:
        render.info(run_summary(run))
    return 0


def cmd_runs(args: argparse.Namespace, client: Client) -> int:
    items = list(client.paginate(f"/schedules/{args.schedule}/runs", limit=args.limit))
    if args.json:
        render.print_json(items)
    else:
        render.table(items, _RUN_COLUMNS, empty="no runs yet")
    return 0


def register(cli: Commands) -> None:
    group = cli.group("schedules", "run agents on a cron schedule")
    create = group.command("create", cmd_create, "schedule an agent")
    create.add_argument("agent", help="agent id or name")
    create.add_argument("--cron", required=True, help="5-field cron expression, or @daily, @hourly ...")
    create.add_argument("--timezone", default="UTC", help="IANA time zone, e.g. Europe/Berlin")
    create.add_argument("--input", required=True, help="the prompt ('-' reads stdin)")
    create.add_argument("--session")
    create.add_argument("--overlap", choices=("skip", "queue"), default="skip")
    create.add_argument("--max-failures", type=int)
    create.add_argument("--paused", action="store_true", help="create it paused")
    group.command("list", cmd_list, "your schedules").add_argument("--limit", type=int)
    group.command("show", cmd_show, "one schedule").add_argument("schedule")
    group.command("pause", cmd_pause, "pause a schedule").add_argument("schedule")
    group.command("resume", cmd_resume, "resume a schedule (failures reset)").add_argument("schedule")
    group.command("delete", cmd_delete, "delete a schedule").add_argument("schedule")
    group.command("run-now", cmd_run_now, "start the schedule's run now").add_argument("schedule")
    runs = group.command("runs", cmd_runs, "the runs a schedule started")
    runs.add_argument("schedule")
    runs.add_argument("--limit", type=int, default=20)
