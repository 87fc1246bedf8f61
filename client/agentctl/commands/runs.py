"""``agentctl run`` and ``agentctl runs``: run agents and inspect runs."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from agentctl import render
from agentctl.api import ApiError, Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import (
    CUT_NOTE,
    POLL_SECONDS,
    TERMINAL_RUN_EVENTS,
    TERMINAL_RUN_STATUSES,
    finish_run,
    is_cut,
    output_text,
    read_prompt,
    resolve_agent,
    resolve_session,
    wait_for_run,
)

ORDER = 40
_CANCEL_WAIT_SECONDS = 90  # a running run stops at its next step (after a model call)


def cmd_run(args: argparse.Namespace, client: Client) -> int:
    agent_id = resolve_agent(client, args.agent)
    session_id = args.session
    if session_id == "new":
        session = client.post(
            "/sessions", json={"agent_id": agent_id, **({"title": args.title} if args.title else {})}
        )
        session_id = session["id"]
        render.info(f"session {session_id}" + (f" ({args.title})" if args.title else ""))
    elif session_id:
        session_id = resolve_session(client, session_id, agent_id)
    body: dict[str, Any] = {"agent_id": agent_id, "input": read_prompt(args.prompt)}
    if session_id:
        body["session_id"] = session_id
    if args.draft:  # try an unsaved definition of the agent (sync/stream only)
        from agentctl.definitions import load_definition, resolve_placeholders

        body["draft"] = resolve_placeholders(
            load_definition(args.draft), lambda name: resolve_agent(client, name)
        )
    if args.async_:
        body.update(mode="async", idempotency_key=uuid.uuid4().hex)
        run = client.post("/runs", json=body)
        if not args.no_wait:
            with cancel_on_interrupt(client, lambda: run["id"]):
                return finish_run(wait_for_run(client, run, quiet=args.json), args.json)
        if args.no_wait:
            if args.json:
                render.print_json(run)
            else:
                sys.stdout.write(f"{run['id']}\n")
                follow = f"agentctl runs events {run['id']} --follow"
                render.info(f"run {run['id']} {run.get('status')}: follow it with `{follow}`")
            return 0
        return finish_run(wait_for_run(client, run, quiet=args.json), args.json)
    if args.events:
        return _print_run_events(client, {**body, "mode": "stream"})
    if args.json:
        return finish_run(client.post("/runs", json={**body, "mode": "sync"}), True)
    return _stream_run(client, {**body, "mode": "stream"})


def _print_run_events(client: Client, body: dict[str, Any]) -> int:
    """Every SSE event as one JSON line as it arrives (for scripts that want live events)."""
    status = None
    for event in client.stream_events("POST", "/runs", json=body):
        render.print_json_line({"id": event.id, "event": event.event, "data": event.data})
        if event.event in TERMINAL_RUN_EVENTS and isinstance(event.data, dict):
            status = (event.data.get("run") or event.data).get("status")
    return 0 if status == "succeeded" else 1


def _stream_run(client: Client, body: dict[str, Any]) -> int:
    """Print text deltas as they arrive; tool activity goes to stderr. A run that pauses for
    approval of a tool call asks on a terminal and streams the continuation."""
    from agentctl.commands import approvals

    events = client.stream_events("POST", "/runs", json=body)
    started: dict[str, Any] = {}
    while True:
        with cancel_on_interrupt(client, lambda: started.get("id")):
            final, printed = _print_stream(events, started)
        if final.get("status") != approvals.WAITING:
            return finish_run(final, as_json=False, printed_text=printed)
        if not sys.stdin.isatty():
            render.info(
                f"run {final['id']} waits for approval of a tool call: "
                f"`agentctl runs approve {final['id']}` (or --deny)"
            )
            return 3
        decisions = approvals.ask(final)
        events = client.stream_events(
            "POST", f"/runs/{final['id']}/approvals", json={"decisions": decisions, "mode": "stream"}
        )


def _print_stream(events: Iterator[Any], started: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Text deltas to stdout, tool activity to stderr; ``started`` gets the run (for Ctrl-C)."""
    printed = False
    last_char = "\n"
    final: dict[str, Any] | None = None
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.event == "run.started":
            started.update(data.get("run") or data)
        elif event.event == "text.delta":
            delta = str(data.get("delta", ""))
            if delta:
                sys.stdout.write(delta)
                sys.stdout.flush()
                printed, last_char = True, delta[-1]
        elif event.event == "tool.call":
            if printed and last_char != "\n":
                sys.stdout.write("\n")
                last_char = "\n"
            render.info(f"→ {data.get('name')}({render.cell(data.get('args'), limit=120)})")
        elif event.event == "tool.result":
            render.info(f"← {data.get('name')}: {render.cell(data.get('content'), limit=120)}")
        elif event.event in TERMINAL_RUN_EVENTS or event.event == "run.requires_action":
            final = data.get("run") or data
        elif event.event == "json":  # the server chose to answer with the run as JSON
            final = data
        elif event.event == "error":
            raise ApiError(0, str(data.get("code", "error")), str(data.get("message", "stream failed")))
    if printed and last_char != "\n":
        sys.stdout.write("\n")
        sys.stdout.flush()
    if final is None:
        raise CliError("the stream ended before the run finished")
    return final, printed


@contextlib.contextmanager
def cancel_on_interrupt(client: Client, run_id: Callable[[], str | None]) -> Iterator[None]:
    """Ctrl-C cancels the run on the server (POST /runs/{id}/cancel), waits briefly for its
    final status and reports it; the command then exits 130."""
    try:
        yield
    except KeyboardInterrupt:
        current = run_id()
        if not current:
            raise
        sys.stdout.flush()
        render.info(f"\ncancelling run {current} …")
        try:
            run = client.post(f"/runs/{current}/cancel") or {}
        except CliError as exc:
            raise CliError(f"interrupted; cancelling run {current} failed: {exc}") from None
        render.info("waiting for the run to stop at its next step (Ctrl-C again to stop waiting)")
        deadline = time.monotonic() + _CANCEL_WAIT_SECONDS
        try:
            while run.get("status") not in TERMINAL_RUN_STATUSES and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                run = client.get(f"/runs/{current}")
        except (KeyboardInterrupt, CliError):
            run = {"status": "cancel requested"}
        status = run.get("status") or "cancel requested"
        raise CliError(f"interrupted: run {current} {status}", exit_code=130) from None


def cmd_runs_list(args: argparse.Namespace, client: Client) -> int:
    params = {"agent_id": resolve_agent(client, args.agent) if args.agent else None, "status": args.status}
    runs = list(client.paginate("/runs", params=params, limit=args.limit))
    if args.json:
        render.print_json(runs)
    else:
        names = {agent["id"]: agent.get("name") for agent in client.paginate("/agents")} if runs else {}
        rows = [
            {
                **run,
                "agent": names.get(run.get("agent_id")) or run.get("agent_id"),
                "cost": render.money(run.get("cost_usd")),
                "status": f"{run.get('status')} (cut)" if is_cut(run) else run.get("status"),
            }
            for run in runs
        ]
        render.table(
            rows,
            [
                ("ID", "id"),
                ("AGENT", "agent"),
                ("MODE", "mode"),
                ("STATUS", "status"),
                ("COST", "cost"),
                ("CREATED", "created_at"),
            ],
            empty="no runs",
        )
    return 0


def cmd_runs_show(args: argparse.Namespace, client: Client) -> int:
    run = client.get(f"/runs/{args.run}")
    if args.json:
        render.print_json(run)
        return 0
    usage = run.get("usage") or {}
    error = run.get("error") or {}
    render.fields(
        [
            ("id", run.get("id")),
            ("agent", f"{run.get('agent_id')} v{run.get('agent_version')}"),
            ("session", run.get("session_id")),
            ("mode", run.get("mode")),
            ("status", run.get("status")),
            ("created", run.get("created_at")),
            ("started", run.get("started_at")),
            ("finished", run.get("finished_at")),
            ("usage", render.usage_line(usage)),
            ("cost", render.money(run.get("cost_usd"))),
            ("finish", _finish_text(run)),
            ("error", f"{error.get('message')} ({error.get('code')})" if error else None),
            ("output", output_text(run.get("output")) or None),
        ]
    )
    return 0


def _finish_text(run: dict[str, Any]) -> str | None:
    reason = run.get("finish_reason")
    if is_cut(run):
        return f"length ({CUT_NOTE})"
    return reason


def cmd_runs_cancel(args: argparse.Namespace, client: Client) -> int:
    run = client.post(f"/runs/{args.run}/cancel")
    if args.json:
        render.print_json(run)
    else:
        render.info(f"run {args.run}: {(run or {}).get('status', 'cancel requested')}")
    return 0


def _print_event(event_id: str | None, name: str, data: Any, as_json: bool) -> None:
    if as_json:
        render.print_json_line({"id": event_id, "event": name, "data": data})
        return
    if name == "text.delta" and isinstance(data, dict):
        detail = repr(data.get("delta", ""))
    elif name in TERMINAL_RUN_EVENTS and isinstance(data, dict):
        run = data.get("run") or data
        note = f" ({CUT_NOTE})" if is_cut(run) else ""
        detail = f"{run.get('status')}{note} {render.cell(run.get('output'), limit=80)}"
    else:
        detail = render.cell(data, limit=120)
    sys.stdout.write(f"{event_id or '-':>6}  {name:<16} {detail}\n")
    sys.stdout.flush()


def _event_fields(item: Any) -> tuple[str | None, str, Any]:
    """One stored event from the JSON listing, whatever its exact field names."""
    if not isinstance(item, dict):
        return None, "event", item
    event_id = item.get("id", item.get("seq", item.get("sequence")))
    name = item.get("event") or item.get("type") or item.get("name") or "event"
    data = item.get(
        "data", item.get("payload", {k: v for k, v in item.items() if k not in {"id", "type", "event"}})
    )
    return (None if event_id is None else str(event_id)), str(name), data


def cmd_runs_events(args: argparse.Namespace, client: Client) -> int:
    if not args.follow:
        for item in client.paginate(f"/runs/{args.run}/events"):
            _print_event(*_event_fields(item), as_json=args.json)
        return 0
    for event_id, name, data in _follow_events(client, args.run, args.last_event_id):
        _print_event(event_id, name, data, as_json=args.json)
    return 0


def _follow_events(
    client: Client, run_id: str, last_event_id: str | None
) -> Iterator[tuple[str | None, str, Any]]:
    """SSE until the run ends; a dropped connection resumes from ``Last-Event-ID``."""
    import requests

    while True:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else None
        finished = False
        try:
            for event in client.stream_events("GET", f"/runs/{run_id}/events", headers=headers):
                if event.event == "json":  # not a stream: the JSON listing
                    items = event.data.get("items", []) if isinstance(event.data, dict) else event.data
                    for item in items:
                        yield _event_fields(item)
                    finished = True
                    break
                if event.id is not None:
                    last_event_id = event.id
                yield event.id, event.event, event.data
                if event.event in TERMINAL_RUN_EVENTS:
                    finished = True
                    break
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            pass  # resume below
        if finished:
            return
        if client.get(f"/runs/{run_id}").get("status") in TERMINAL_RUN_STATUSES and last_event_id is None:
            return
        time.sleep(POLL_SECONDS)


def register(cli: Commands) -> None:
    sub = cli.command("run", cmd_run, "run an agent (streams the reply)")
    sub.add_argument("agent", help="agent id or name")
    sub.add_argument("prompt", help="the input (- reads stdin)")
    sub.add_argument("--async", dest="async_", action="store_true", help="queue the run and wait for it")
    sub.add_argument("--no-wait", action="store_true", help="with --async: print the run id and return")
    sub.add_argument("--session", help="continue a session: its id or title (`new` starts one)")
    sub.add_argument("--title", help="with --session new: the new session's title")
    sub.add_argument("--events", action="store_true", help="print each streamed event as a JSON line")
    sub.add_argument(
        "--draft",
        metavar="FILE",
        help="try this definition file as the agent, unsaved (not with --async)",
    )

    runs = cli.group("runs", "inspect runs")
    sub = runs.command("list", cmd_runs_list, "list your runs")
    sub.add_argument("--agent")
    sub.add_argument("--status")
    sub.add_argument("--limit", type=int, default=20)
    sub = runs.command("show", cmd_runs_show, "show a run")
    sub.add_argument("run")
    sub = runs.command("cancel", cmd_runs_cancel, "cancel a queued or running run")
    sub.add_argument("run")
    sub = runs.command("events", cmd_runs_events, "print a run's events")
    sub.add_argument("run")
    sub.add_argument("--follow", "-f", action="store_true", help="stream new events until the run ends")
    sub.add_argument("--last-event-id", help="with --follow: resume after this event id")
