"""``agentctl batch``: run an agent over many inputs."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from agentctl import render
from agentctl.api import ApiError, Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import POLL_SECONDS, is_cut, resolve_agent

ORDER = 50


_LINE_FIELDS = {"input"}
_SHAPES = 'a line is a JSON string, a list of parts, or {"input": ...}'


def _batch_inputs(path: str) -> tuple[list[Any], list[int]]:
    """One input per line: a JSON string, a list of parts, or an object with an ``input`` field.

    Returns the inputs and the file line each came from (blank lines are skipped), so errors
    name the line and the field."""
    import json

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    inputs: list[Any] = []
    numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            raise CliError(f"{path}:{number}: not valid JSON") from None
        if isinstance(value, dict):
            unknown = sorted(set(value) - _LINE_FIELDS)  # pyright: ignore[reportUnknownArgumentType]
            if unknown:
                raise CliError(f"{path}:{number}: unknown field '{unknown[0]}' ({_SHAPES})")
            if "input" not in value:
                raise CliError(f"{path}:{number}: missing field 'input' ({_SHAPES})")
            value = value["input"]
        elif not isinstance(value, (str, list)):
            raise CliError(f"{path}:{number}: {type(value).__name__} is not an input ({_SHAPES})")
        inputs.append(value)
        numbers.append(number)
    if not inputs:
        raise CliError(f"{path}: no inputs")
    return inputs, numbers


def _readable_location(location: str) -> list[str]:
    """``inputs[1].list[tagged-union[TextInput,ImageInput]][0].text.text`` → ``inputs 1 0 text``:
    pydantic's union branches (``str``, ``list[…]``, a repeated tag) are not fields."""
    import re

    previous = None
    while previous != location:  # drop validator segments like .list[...] / .tagged-union[...]
        previous = location
        location = re.sub(
            r"\.?[a-z-]+\[[^\[\]]*\]",
            lambda m: m.group(0) if re.fullmatch(r"\.?\w*\[\d+\]", m.group(0)) else "",
            location,
        )
    parts = [p for p in re.split(r"[.\[\]]+", location) if p and p not in {"str", "list", "dict", "body"}]
    return [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]


def _with_line_numbers(error: ApiError, path: str, lines: list[int]) -> CliError:
    """A 422 about ``inputs[i]…`` as ``FILE:LINE: field: problem`` (the most specific field)."""
    from agentctl.api import field_error_entries

    best: tuple[int, str] | None = None
    for location, message in field_error_entries(error.details):
        parts = _readable_location(location)
        if len(parts) < 2 or parts[0] != "inputs" or not parts[1].isdigit() or int(parts[1]) >= len(lines):
            continue
        rest = [f"part {int(p) + 1}" if p.isdigit() else p for p in parts[2:]]
        text = f"{path}:{lines[int(parts[1])]}: {' '.join(rest) or 'input'}: {message}"
        if best is None or len(parts) > best[0]:
            best = (len(parts), text)
    return CliError(best[1]) if best else error


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
    cut = sum(1 for run in runs if is_cut(run))
    if cut:
        # Each result line carries finish_reason "length"; say it once for humans.
        render.info(f"{render.count(cut, 'answer')} cut at the output limit")
    return len(runs)


def cmd_batch_submit(args: argparse.Namespace, client: Client) -> int:
    inputs, lines = _batch_inputs(args.inputs)
    body = {
        "agent_id": resolve_agent(client, args.agent),
        "inputs": inputs,
        "idempotency_key": args.idempotency_key or uuid.uuid4().hex,
    }
    try:
        batch = client.post("/batches", json=body)
    except ApiError as exc:
        raise _with_line_numbers(exc, args.inputs, lines) from None
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
            time.sleep(POLL_SECONDS)
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
            f"{counts.get('failed', 0)} failed; {render.count(written, 'result')} written to {where}"
            + (f" · {render.money(cost)}" if isinstance(cost, (int, float)) else "")
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
        render.info(f"{render.count(written, 'result')} written to {args.output}")
    return 0


def register(cli: Commands) -> None:
    batch = cli.group("batch", "batches of runs")
    sub = batch.command("submit", cmd_batch_submit, "run an agent over every line of a JSONL file")
    sub.add_argument("inputs", help='JSONL: one input per line (a string, parts, or {"input": ...})')
    sub.add_argument("--agent", "-a", required=True)
    sub.add_argument("--output", "-o", default="-", help="results JSONL file (default stdout)")
    sub.add_argument("--no-wait", action="store_true")
    sub.add_argument("--idempotency-key")
    sub = batch.command("show", cmd_batch_show, "show a batch's counts")
    sub.add_argument("batch")
    sub = batch.command("wait", cmd_batch_wait, "wait for a batch and write its results")
    sub.add_argument("batch")
    sub.add_argument("--output", "-o", default="-")
    sub = batch.command("results", cmd_batch_results, "write a batch's runs as JSONL")
    sub.add_argument("batch")
    sub.add_argument("--output", "-o", default="-")
