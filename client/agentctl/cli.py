"""``agentctl``: the command-line client (argparse; see docs/cli.md).

Human output by default, ``--json`` for scripts. Errors are one line on stderr and a
non-zero exit code: 1 for an API or client error, 2 for bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from agentctl import __version__, config, render
from agentctl.api import ApiError, Client, CliError
from agentctl.definitions import AGENT_ID, load_definition, resolve_placeholders

TERMINAL_RUN_STATUSES = {"succeeded", "failed", "cancelled"}
TERMINAL_RUN_EVENTS = {"run.completed", "run.failed", "run.cancelled"}
_POLL_SECONDS = 0.5

Handler = Callable[[argparse.Namespace, Client], int | None]


# -- helpers ------------------------------------------------------------------------------


def _agent_id(client: Client, ref: str) -> str:
    """An agent id, or the id of the caller's agent with that name."""
    if AGENT_ID.match(ref):
        return ref
    matches = [agent for agent in client.paginate("/agents") if agent.get("name") == ref]
    if not matches:
        raise CliError(f"no agent named '{ref}' (use its id, or see `agentctl agents list`)")
    if len(matches) > 1:
        raise CliError(f"several agents are named '{ref}': use an id")
    return str(matches[0]["id"])


def _read_prompt(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _password(args: argparse.Namespace, confirm: bool = False) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("AGENTCTL_PASSWORD"):
        return os.environ["AGENTCTL_PASSWORD"]
    import getpass

    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise CliError("passwords do not match")
    return password


def _run_summary(run: dict[str, Any]) -> str:
    usage = run.get("usage") or {}
    parts = [f"run {run.get('id')} {run.get('status')}"]
    if usage:
        parts.append(
            f"{usage.get('requests', 0)} requests, {usage.get('input_tokens', 0)}+"
            f"{usage.get('output_tokens', 0)} tokens, {usage.get('tool_calls', 0)} tool calls"
        )
    if run.get("cost_usd") is not None:
        parts.append(f"${run['cost_usd']:.6f}")
    return " · ".join(parts)


def _output_text(output: Any) -> str:
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    import json

    return json.dumps(output, indent=2, ensure_ascii=False)


def _finish_run(run: dict[str, Any], as_json: bool, printed_text: bool = False) -> int:
    """Print a finished run (its output, or the error) and return the exit code."""
    if as_json:
        render.print_json(run)
    elif not printed_text:
        text = _output_text(run.get("output"))
        if text:
            sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    if run.get("status") == "succeeded":
        if not as_json:
            render.info(_run_summary(run))
        return 0
    error = run.get("error") or {}
    message = error.get("message") or run.get("status")
    code = error.get("code") or run.get("status")
    sys.stderr.write(f"error: run {run.get('id')} {run.get('status')}: {message} ({code})\n")
    return 1


def _wait_for_run(client: Client, run: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Poll the run until it finishes, with a status line on stderr."""
    progress = None if quiet else render.Progress()
    try:
        while run.get("status") not in TERMINAL_RUN_STATUSES:
            if progress:
                attempts = run.get("attempts") or 0
                retry = f" (attempt {attempts})" if attempts and attempts > 1 else ""
                progress.update(f"run {run['id']}: {run.get('status')}{retry}")
            time.sleep(_POLL_SECONDS)
            run = client.get(f"/runs/{run['id']}")
        if progress:
            progress.update(f"run {run['id']}: {run.get('status')}")
    finally:
        if progress:
            progress.done()
    return run


# -- auth ---------------------------------------------------------------------------------


def cmd_register(args: argparse.Namespace, client: Client) -> int:
    password = _password(args, confirm=True)
    user = client.post(
        "/auth/register",
        json={"username": args.username, "email": args.email, "password": password},
        auth=False,
    )
    if args.login:
        client.login(args.username, password)
    if args.json:
        render.print_json(user)
    else:
        render.info(f"registered {user['username']} ({user['id']})" + ("; logged in" if args.login else ""))
    return 0


def cmd_login(args: argparse.Namespace, client: Client) -> int:
    username = args.username or input("Username: ")
    client.login(username, _password(args))
    if args.json:
        render.print_json({"username": username, "base_url": client.base_url})
    else:
        render.info(f"logged in to {client.base_url} as {username}")
    return 0


def cmd_logout(args: argparse.Namespace, client: Client) -> int:
    client.logout()
    if not args.json:
        render.info(f"logged out of {client.base_url}")
    return 0


def cmd_whoami(args: argparse.Namespace, client: Client) -> int:
    user = client.get("/auth/me")
    if args.json:
        render.print_json(user)
    else:
        render.fields(
            [
                ("username", user.get("username")),
                ("id", user.get("id")),
                ("email", user.get("email")),
                ("role", user.get("role")),
                ("base url", client.base_url),
            ]
        )
    return 0


def cmd_config(args: argparse.Namespace, client: Client) -> int:
    values = config.load_config()
    if getattr(args, "config_action", None) == "set":
        if args.key != "base_url":
            raise CliError("unknown setting: only base_url can be set")
        values["base_url"] = args.value.rstrip("/")
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


# -- agents -------------------------------------------------------------------------------


def _definition_from(args: argparse.Namespace, client: Client) -> dict[str, Any]:
    definition = load_definition(args.file)
    if getattr(args, "name", None):
        definition["name"] = args.name
    return resolve_placeholders(definition, lambda name: _agent_id(client, name))


def _print_agent_line(verb: str, agent: dict[str, Any]) -> None:
    render.info(f"{verb} agent {agent.get('name')} ({agent.get('id')}) version {agent.get('version')}")


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
        _print_agent_line("created", agent)
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
    agent = client.get(f"/agents/{_agent_id(client, args.agent)}")
    if args.json:
        render.print_json(agent)
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(agent, sort_keys=False, allow_unicode=True))
    return 0


def cmd_agents_update(args: argparse.Namespace, client: Client) -> int:
    agent_id = _agent_id(client, args.agent)
    headers = {"If-Match": str(args.if_match)} if args.if_match is not None else None
    agent = client.call("PUT", f"/agents/{agent_id}", json=_definition_from(args, client), headers=headers)
    if args.json:
        render.print_json(agent)
    else:
        _print_agent_line("updated", agent)
    return 0


def cmd_agents_delete(args: argparse.Namespace, client: Client) -> int:
    agent_id = _agent_id(client, args.agent)
    client.call("DELETE", f"/agents/{agent_id}")
    if args.json:
        render.print_json({"id": agent_id, "deleted": True})
    else:
        render.info(f"deleted agent {agent_id}")
    return 0


def cmd_agents_versions(args: argparse.Namespace, client: Client) -> int:
    page = client.get(f"/agents/{_agent_id(client, args.agent)}/versions")
    versions = page["items"] if isinstance(page, dict) else page
    if args.json:
        render.print_json(versions)
    else:
        render.table(versions, [("VERSION", "version"), ("CREATED", "created_at"), ("NAME", "name")])
    return 0


# -- runs ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, client: Client) -> int:
    agent_id = _agent_id(client, args.agent)
    session_id = args.session
    if session_id == "new":
        session = client.post("/sessions", json={"agent_id": agent_id})
        session_id = session["id"]
        render.info(f"session {session_id}")
    body: dict[str, Any] = {"agent_id": agent_id, "input": _read_prompt(args.prompt)}
    if session_id:
        body["session_id"] = session_id
    if args.async_:
        body.update(mode="async", idempotency_key=uuid.uuid4().hex)
        run = client.post("/runs", json=body)
        if args.no_wait:
            if args.json:
                render.print_json(run)
            else:
                sys.stdout.write(f"{run['id']}\n")
                follow = f"agentctl runs events {run['id']} --follow"
                render.info(f"run {run['id']} {run.get('status')}: follow it with `{follow}`")
            return 0
        return _finish_run(_wait_for_run(client, run, quiet=args.json), args.json)
    if args.events:
        return _print_run_events(client, {**body, "mode": "stream"})
    if args.json:
        return _finish_run(client.post("/runs", json={**body, "mode": "sync"}), True)
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
    """Print text deltas as they arrive; tool activity goes to stderr."""
    printed = False
    last_char = "\n"
    final: dict[str, Any] | None = None
    for event in client.stream_events("POST", "/runs", json=body):
        data = event.data if isinstance(event.data, dict) else {}
        if event.event == "text.delta":
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
        elif event.event in TERMINAL_RUN_EVENTS:
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
    return _finish_run(final, as_json=False, printed_text=printed)


def cmd_runs_list(args: argparse.Namespace, client: Client) -> int:
    params = {"agent_id": _agent_id(client, args.agent) if args.agent else None, "status": args.status}
    runs = list(client.paginate("/runs", params=params, limit=args.limit))
    if args.json:
        render.print_json(runs)
    else:
        render.table(
            runs,
            [
                ("ID", "id"),
                ("AGENT", "agent_id"),
                ("MODE", "mode"),
                ("STATUS", "status"),
                ("COST", "cost_usd"),
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
            (
                "usage",
                f"{usage.get('requests', 0)} requests, {usage.get('input_tokens', 0)} in / "
                f"{usage.get('output_tokens', 0)} out tokens, {usage.get('tool_calls', 0)} tool calls",
            ),
            ("cost", f"${run.get('cost_usd') or 0:.6f}"),
            ("error", f"{error.get('message')} ({error.get('code')})" if error else None),
            ("output", _output_text(run.get("output")) or None),
        ]
    )
    return 0


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
        detail = f"{run.get('status')} {render.cell(run.get('output'), limit=80)}"
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
        time.sleep(_POLL_SECONDS)


# -- batches ------------------------------------------------------------------------------


def _batch_inputs(path: str) -> list[Any]:
    """One input per line: a JSON string, a list of parts, or an object with an ``input`` field."""
    import json

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    inputs: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            raise CliError(f"{path}:{number}: not valid JSON") from None
        inputs.append(value["input"] if isinstance(value, dict) and "input" in value else value)
    if not inputs:
        raise CliError(f"{path}: no inputs")
    return inputs


def _batch_done(batch: dict[str, Any]) -> bool:
    counts = batch.get("counts") or {}
    finished = sum(int(counts.get(key) or 0) for key in ("succeeded", "failed", "cancelled"))
    return finished >= int(batch.get("total") or 0) and not counts.get("queued") and not counts.get("running")


def _batch_line(batch: dict[str, Any]) -> str:
    counts = batch.get("counts") or {}
    total = int(batch.get("total") or 0)
    finished = sum(int(counts.get(key) or 0) for key in ("succeeded", "failed", "cancelled"))
    line = (
        f"batch {batch['id']} {render.bar(finished, total)} {finished}/{total}  "
        f"succeeded {counts.get('succeeded', 0)}  failed {counts.get('failed', 0)}  "
        f"running {counts.get('running', 0)}  queued {counts.get('queued', 0)}"
    )
    if batch.get("inputs_lost"):
        # Counted in `failed`: the creating request died before storing them (a resubmit with
        # the same --idempotency-key stores and runs them).
        line += f"  (inputs lost {batch['inputs_lost']})"
    return line


def _write_results(client: Client, batch_id: str, output: str) -> int:
    import json

    runs = list(client.paginate(f"/batches/{batch_id}/runs"))
    lines = "".join(json.dumps(run, ensure_ascii=False, separators=(",", ":")) + "\n" for run in runs)
    if output == "-":
        sys.stdout.write(lines)
    else:
        Path(output).write_text(lines, encoding="utf-8")
    return len(runs)


def cmd_batch_submit(args: argparse.Namespace, client: Client) -> int:
    body = {
        "agent_id": _agent_id(client, args.agent),
        "inputs": _batch_inputs(args.inputs),
        "idempotency_key": args.idempotency_key or uuid.uuid4().hex,
    }
    batch = client.post("/batches", json=body)
    if args.no_wait:
        if args.json:
            render.print_json(batch)
        else:
            sys.stdout.write(f"{batch['id']}\n")
        return 0
    return _wait_for_batch(client, batch, args)


def _wait_for_batch(client: Client, batch: dict[str, Any], args: argparse.Namespace) -> int:
    progress = render.Progress()
    try:
        while True:
            progress.update(_batch_line(batch))
            if _batch_done(batch):
                break
            time.sleep(_POLL_SECONDS)
            batch = client.get(f"/batches/{batch['id']}")
    finally:
        progress.done()
    written = _write_results(client, batch["id"], args.output)
    counts = batch.get("counts") or {}
    if args.json:
        render.print_json(batch)
    else:
        where = "stdout" if args.output == "-" else args.output
        cost = batch.get("cost_usd")
        render.info(
            f"batch {batch['id']} {batch.get('status')}: {counts.get('succeeded', 0)} succeeded, "
            f"{counts.get('failed', 0)} failed; {written} results written to {where}"
            + (f" · ${cost:.6f}" if isinstance(cost, (int, float)) else "")
        )
    return 0 if not counts.get("failed") and not counts.get("cancelled") else 1


def cmd_batch_show(args: argparse.Namespace, client: Client) -> int:
    batch = client.get(f"/batches/{args.batch}")
    if args.json:
        render.print_json(batch)
    else:
        sys.stdout.write(_batch_line(batch) + f"  status {batch.get('status')}\n")
    return 0


def cmd_batch_wait(args: argparse.Namespace, client: Client) -> int:
    return _wait_for_batch(client, client.get(f"/batches/{args.batch}"), args)


def cmd_batch_results(args: argparse.Namespace, client: Client) -> int:
    written = _write_results(client, args.batch, args.output)
    if args.output != "-":
        render.info(f"{written} results written to {args.output}")
    return 0


# -- marketplace --------------------------------------------------------------------------

_LISTING_COLUMNS = [
    ("ID", "id"),
    ("NAME", "name"),
    ("CATEGORY", "category"),
    ("RATING", "stats.rating_avg"),
    ("RATINGS", "stats.rating_count"),
    ("INSTALLS", "stats.installs"),
    ("BY", "owner_username"),
    ("SUMMARY", "summary"),
]


def cmd_market_search(args: argparse.Namespace, client: Client) -> int:
    params = {
        "q": " ".join(args.query) or None,
        "tags": ",".join(args.tag) if args.tag else None,
        "category": args.category,
        "sort": args.sort,
    }
    listings = list(client.paginate("/marketplace/listings", params=params, limit=args.limit, auth=None))
    if args.json:
        render.print_json(listings)
    else:
        render.table(listings, _LISTING_COLUMNS, empty="no listings match")
    return 0


def cmd_market_show(args: argparse.Namespace, client: Client) -> int:
    listing = client.get(f"/marketplace/listings/{args.listing}", auth=None)
    if args.json:
        render.print_json(listing)
        return 0
    stats = listing.get("stats") or {}
    definition = listing.get("definition") or {}
    model = definition.get("model") or {}
    render.fields(
        [
            ("id", listing.get("id")),
            ("name", listing.get("display_name") or listing.get("name")),
            ("by", listing.get("owner_username")),
            ("version", listing.get("version")),
            ("category", listing.get("category")),
            ("tags", listing.get("tags")),
            ("summary", listing.get("summary")),
            ("description", listing.get("description")),
            ("model", f"{model.get('provider')}/{model.get('name')}" if model else None),
            ("tools", [t.get("name") for t in definition.get("tools") or []]),
            ("rating", f"{stats.get('rating_avg') or 0:.2f} ({stats.get('rating_count', 0)} ratings)"),
            ("installs", stats.get("installs")),
            ("runs", stats.get("runs")),
            ("success rate", stats.get("success_rate")),
            ("p50 latency ms", stats.get("p50_latency_ms")),
            ("avg cost usd", stats.get("avg_cost_usd")),
            ("published", listing.get("published_at")),
        ]
    )
    return 0


def cmd_market_install(args: argparse.Namespace, client: Client) -> int:
    agent = client.post(
        f"/marketplace/listings/{args.listing}/install", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    if args.json:
        render.print_json(agent)
    else:
        sys.stdout.write(f"{agent['id']}\n")
        _print_agent_line("installed", agent)
    return 0


def cmd_market_download(args: argparse.Namespace, client: Client) -> int:
    import json

    bundle = client.get(f"/marketplace/listings/{args.listing}/download", auth=None)
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        digest = bundle.get("sha256") if isinstance(bundle, dict) else None
        render.info(f"bundle written to {args.output}" + (f" (sha256 {digest})" if digest else ""))
    return 0


def cmd_market_rate(args: argparse.Namespace, client: Client) -> int:
    if not 1 <= args.stars <= 5:
        raise CliError("stars must be between 1 and 5")
    body: dict[str, Any] = {"stars": args.stars}
    if args.review:
        body["review"] = args.review
    rating = client.call("PUT", f"/marketplace/listings/{args.listing}/ratings/me", json=body)
    if args.json:
        render.print_json(rating)
    else:
        render.info(f"rated {args.listing}: {args.stars} stars")
    return 0


def cmd_market_publish(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {
        "agent_id": _agent_id(client, args.agent),
        "category": args.category,
        "tags": args.tag,
    }
    if args.summary:
        body["summary"] = args.summary
    listing = client.post("/marketplace/listings", json=body)
    if args.json:
        render.print_json(listing)
    else:
        sys.stdout.write(f"{listing['id']}\n")
        render.info(
            f"published {listing.get('name')} version {listing.get('version')} as listing {listing['id']}"
        )
    return 0


def cmd_market_unpublish(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/marketplace/listings/{args.listing}")
    if not args.json:
        render.info(f"removed listing {args.listing}")
    return 0


def cmd_market_categories(args: argparse.Namespace, client: Client) -> int:
    categories = client.get("/marketplace/categories", auth=None)
    items = categories.get("items", categories) if isinstance(categories, dict) else categories
    if args.json:
        render.print_json(items)
    else:
        rows = [item if isinstance(item, dict) else {"id": item} for item in items]
        columns = [("ID", "id"), ("NAME", "name")] + [
            (key.upper(), key) for key in ("listings", "count") if any(key in row for row in rows)
        ]
        render.table(rows, columns, empty="no categories")
    return 0


# -- parser -------------------------------------------------------------------------------


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

    def command(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help_text, description=help_text, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    def password_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from stdin (else env AGENTCTL_PASSWORD, else a prompt)",
        )

    sub = command(commands, "register", cmd_register, "create an account")
    sub.add_argument("--username", "-u", required=True)
    sub.add_argument("--email", required=True)
    sub.add_argument("--login", action="store_true", help="log in right after registering")
    password_flag(sub)

    sub = command(commands, "login", cmd_login, "log in and store tokens in the config dir")
    sub.add_argument("--username", "-u")
    password_flag(sub)
    command(commands, "logout", cmd_logout, "revoke the refresh token and forget the stored tokens")
    command(commands, "whoami", cmd_whoami, "show the logged-in user")

    sub = command(commands, "config", cmd_config, "show or set agentctl settings")
    actions = sub.add_subparsers(dest="config_action", metavar="ACTION")
    actions.add_parser("show", parents=[common])
    setter = actions.add_parser("set", parents=[common], help="config set base_url URL")
    setter.add_argument("key")
    setter.add_argument("value")

    agents = commands.add_parser("agents", help="create and manage agents").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sub = command(agents, "create", cmd_agents_create, "create an agent from a YAML/JSON definition")
    sub.add_argument("-f", "--file", help="definition file (YAML or JSON; - for stdin)")
    sub.add_argument("--template", help="create from a built-in template instead")
    sub.add_argument("--name", help="override the definition's name")
    sub.add_argument("--idempotency-key")
    sub = command(agents, "list", cmd_agents_list, "list your agents")
    sub.add_argument("--limit", type=int)
    sub = command(agents, "show", cmd_agents_show, "show an agent (id or name)")
    sub.add_argument("agent")
    sub = command(agents, "update", cmd_agents_update, "replace an agent's definition (new version)")
    sub.add_argument("agent")
    sub.add_argument("-f", "--file", required=True)
    sub.add_argument(
        "--if-match", type=int, metavar="VERSION", help="fail with 409 unless this is the current version"
    )
    sub = command(agents, "delete", cmd_agents_delete, "delete an agent")
    sub.add_argument("agent")
    sub = command(agents, "versions", cmd_agents_versions, "list an agent's versions")
    sub.add_argument("agent")

    sub = command(commands, "run", cmd_run, "run an agent (streams the reply)")
    sub.add_argument("agent", help="agent id or name")
    sub.add_argument("prompt", help="the input (- reads stdin)")
    sub.add_argument("--async", dest="async_", action="store_true", help="queue the run and wait for it")
    sub.add_argument("--no-wait", action="store_true", help="with --async: print the run id and return")
    sub.add_argument("--session", help="continue a session (`new` starts one)")
    sub.add_argument("--events", action="store_true", help="print each streamed event as a JSON line")

    runs = commands.add_parser("runs", help="inspect runs").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sub = command(runs, "list", cmd_runs_list, "list your runs")
    sub.add_argument("--agent")
    sub.add_argument("--status")
    sub.add_argument("--limit", type=int, default=20)
    sub = command(runs, "show", cmd_runs_show, "show a run")
    sub.add_argument("run")
    sub = command(runs, "cancel", cmd_runs_cancel, "cancel a queued or running run")
    sub.add_argument("run")
    sub = command(runs, "events", cmd_runs_events, "print a run's events")
    sub.add_argument("run")
    sub.add_argument("--follow", "-f", action="store_true", help="stream new events until the run ends")
    sub.add_argument("--last-event-id", help="with --follow: resume after this event id")

    batch = commands.add_parser("batch", help="batches of runs").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sub = command(batch, "submit", cmd_batch_submit, "run an agent over every line of a JSONL file")
    sub.add_argument("inputs", help='JSONL: one input per line (a string, parts, or {"input": ...})')
    sub.add_argument("--agent", "-a", required=True)
    sub.add_argument("--output", "-o", default="-", help="results JSONL file (default stdout)")
    sub.add_argument("--no-wait", action="store_true")
    sub.add_argument("--idempotency-key")
    sub = command(batch, "show", cmd_batch_show, "show a batch's counts")
    sub.add_argument("batch")
    sub = command(batch, "wait", cmd_batch_wait, "wait for a batch and write its results")
    sub.add_argument("batch")
    sub.add_argument("--output", "-o", default="-")
    sub = command(batch, "results", cmd_batch_results, "write a batch's runs as JSONL")
    sub.add_argument("batch")
    sub.add_argument("--output", "-o", default="-")

    market = commands.add_parser("market", help="the agent marketplace").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sub = command(market, "search", cmd_market_search, "search listings")
    sub.add_argument("query", nargs="*")
    sub.add_argument("--tag", action="append", default=[])
    sub.add_argument("--category")
    sub.add_argument("--sort", choices=["rating", "installs", "recent"])
    sub.add_argument("--limit", type=int, default=20)
    sub = command(market, "show", cmd_market_show, "show a listing and its stats")
    sub.add_argument("listing")
    sub = command(market, "install", cmd_market_install, "install a listing as your own agent")
    sub.add_argument("listing")
    sub = command(market, "download", cmd_market_download, "download a listing's bundle")
    sub.add_argument("listing")
    sub.add_argument("--output", "-o")
    sub = command(market, "rate", cmd_market_rate, "rate a listing (1-5 stars)")
    sub.add_argument("listing")
    sub.add_argument("stars", type=int)
    sub.add_argument("--review")
    sub = command(market, "publish", cmd_market_publish, "publish an agent's current version")
    sub.add_argument("agent")
    sub.add_argument("--category", required=True)
    sub.add_argument("--tag", action="append", default=[])
    sub.add_argument("--summary")
    sub = command(market, "unpublish", cmd_market_unpublish, "remove a listing")
    sub.add_argument("listing")
    command(market, "categories", cmd_market_categories, "list categories")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    client = Client(config.resolve_base_url(getattr(args, "base_url", None)))
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
