"""``agentctl evals``: datasets (pydantic-evals YAML/JSON), eval runs, results and comparisons."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.commands import Commands
from agentctl.commands._shared import POLL_SECONDS, resolve_agent

ORDER = 55


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f}%"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f} ms"


# -- datasets -------------------------------------------------------------------------------


def cmd_datasets_import(args: argparse.Namespace, client: Client) -> int:
    try:
        content = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    body: dict[str, Any] = {"content": content}
    if args.name:
        body["name"] = args.name
    dataset = client.post("/eval-datasets/import", json=body)
    if args.json:
        render.print_json(dataset)
    else:
        sys.stdout.write(f"{dataset['id']}\n")
        cases = render.count(len(dataset.get("cases") or []), "case")
        render.info(f"dataset {dataset.get('name')} ({dataset['id']}): {cases}")
    return 0


def cmd_datasets_list(args: argparse.Namespace, client: Client) -> int:
    items = list(client.paginate("/eval-datasets", limit=args.limit))
    if args.json:
        render.print_json(items)
        return 0
    render.table(
        items,
        [
            ("ID", "id"),
            ("NAME", "name"),
            ("CASES", "case_count"),
            ("REVISION", "revision"),
            ("CREATED", "created_at"),
        ],
        empty="no datasets",
    )
    return 0


def cmd_datasets_export(args: argparse.Namespace, client: Client) -> int:
    if args.format == "yaml":
        response = client.request("GET", f"/eval-datasets/{args.dataset}/export.yaml")
        text = response.text
    else:
        import json

        text = json.dumps(client.get(f"/eval-datasets/{args.dataset}/export"), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        render.info(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


# -- evals ----------------------------------------------------------------------------------


def _summary_line(ev: dict[str, Any]) -> str:
    counts = ev.get("counts") or {}
    summary = ev.get("summary")
    head = f"eval {ev.get('id')} {ev.get('status')} · v{ev.get('agent_version')} · {ev.get('dataset_name')}"
    if summary:
        rate = f"{_percent(summary.get('pass_rate'))} ({counts.get('passed')}/{summary.get('runs')})"
        cost = render.money(summary.get("cost_per_run_usd"))
        p50, p95 = _ms(summary.get("p50_latency_ms")), _ms(summary.get("p95_latency_ms"))
        return f"{head} · pass rate {rate} · {cost}/run · p50 {p50} · p95 {p95}"
    return f"{head} · {counts.get('scored', 0)}/{counts.get('total', 0)} scored"


def _results_table(client: Client, eval_id: str) -> list[dict[str, Any]]:
    results = list(client.paginate(f"/evals/{eval_id}/results"))
    rows: list[dict[str, Any]] = []
    for result in results:
        failed = [e for e in result.get("evaluators") or [] if not e.get("passed")]
        reason = "; ".join(f"{e.get('name')}: {e.get('reason')}" for e in failed)
        if not reason and result.get("error"):
            reason = str((result.get("error") or {}).get("code"))
        rows.append(
            {
                "case": result.get("case_name"),
                "repeat": result.get("repeat_index"),
                "result": "pass" if result.get("passed") else "FAIL",
                "score": f"{float(result.get('score') or 0):.2f}",
                "cost": render.money(result.get("cost_usd")),
                "latency": _ms(result.get("duration_ms")),
                "reason": reason or "",
            }
        )
    return rows


def _show(client: Client, ev: dict[str, Any], as_json: bool) -> int:
    if as_json:
        render.print_json({**ev, "results": list(client.paginate(f"/evals/{ev['id']}/results"))})
        return 0
    render.table(
        _results_table(client, ev["id"]),
        [
            ("CASE", "case"),
            ("REPEAT", "repeat"),
            ("RESULT", "result"),
            ("SCORE", "score"),
            ("COST", "cost"),
            ("LATENCY", "latency"),
            ("WHY", "reason"),
        ],
        empty="no results yet",
    )
    render.info(_summary_line(ev))
    return 0


def _wait(client: Client, ev: dict[str, Any], quiet: bool) -> dict[str, Any]:
    progress = None if quiet else render.Progress()
    try:
        while ev.get("status") != "completed":
            counts = ev.get("counts") or {}
            if progress:
                done, total = int(counts.get("scored") or 0), int(counts.get("total") or 0)
                progress.update(f"eval {ev['id']}: {render.bar(done, total)} {done}/{total} scored")
            time.sleep(POLL_SECONDS)
            ev = client.get(f"/evals/{ev['id']}")
    finally:
        if progress:
            progress.done()
    return ev


def cmd_evals_run(args: argparse.Namespace, client: Client) -> int:
    body: dict[str, Any] = {
        "agent_id": resolve_agent(client, args.agent),
        "dataset_id": args.dataset,
        "repeat": args.repeat,
    }
    if args.version:
        body["agent_version"] = args.version
    # One key per invocation: a retried request (network error) never starts a second eval.
    ev = client.post("/evals", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    if args.no_wait:
        if args.json:
            render.print_json(ev)
        else:
            sys.stdout.write(f"{ev['id']}\n")
            render.info(f"eval {ev['id']} started: `agentctl evals show {ev['id']}`")
        return 0
    ev = _wait(client, ev, quiet=args.json)
    _show(client, ev, args.json)
    return _gate(ev, args) if args.fail_under is not None else 0


def _gate(ev: dict[str, Any], args: argparse.Namespace) -> int:
    rate = float((ev.get("summary") or {}).get("pass_rate") or 0)
    if rate < args.fail_under:
        sys.stderr.write(f"error: pass rate {_percent(rate)} is below {_percent(args.fail_under)}\n")
        return 1
    return 0


def cmd_evals_show(args: argparse.Namespace, client: Client) -> int:
    return _show(client, client.get(f"/evals/{args.eval}"), args.json)


def cmd_evals_list(args: argparse.Namespace, client: Client) -> int:
    params = {
        "agent_id": resolve_agent(client, args.agent) if args.agent else None,
        "dataset_id": args.dataset,
    }
    items = list(client.paginate("/evals", params=params, limit=args.limit))
    if args.json:
        render.print_json(items)
        return 0
    rows = [
        {
            **ev,
            "version": f"v{ev.get('agent_version')}",
            "pass_rate": _percent((ev.get("summary") or {}).get("pass_rate")),
            "scored": f"{(ev.get('counts') or {}).get('scored')}/{(ev.get('counts') or {}).get('total')}",
        }
        for ev in items
    ]
    render.table(
        rows,
        [
            ("ID", "id"),
            ("AGENT", "agent_id"),
            ("VERSION", "version"),
            ("DATASET", "dataset_name"),
            ("STATUS", "status"),
            ("SCORED", "scored"),
            ("PASS RATE", "pass_rate"),
            ("CREATED", "created_at"),
        ],
        empty="no evals",
    )
    return 0


def cmd_evals_compare(args: argparse.Namespace, client: Client) -> int:
    comparison = client.get(f"/evals/{args.head}/compare/{args.base}")
    if args.json:
        render.print_json(comparison)
        return 0
    rows = [
        {
            **case,
            "base": {True: "pass", False: "fail", None: "-"}[case.get("base_passed")],
            "head": {True: "pass", False: "fail", None: "-"}[case.get("head_passed")],
            "cost": render.money(case.get("cost_delta_usd")),
            "latency": _ms(case.get("latency_delta_ms")),
        }
        for case in comparison.get("cases") or []
    ]
    render.table(
        rows,
        [
            ("CASE", "case_name"),
            ("BASE", "base"),
            ("HEAD", "head"),
            ("CHANGE", "change"),
            ("Δ COST", "cost"),
            ("Δ LATENCY", "latency"),
        ],
        empty="no cases",
    )
    base, head = comparison["base"], comparison["head"]
    render.info(
        f"v{base.get('agent_version')} → v{head.get('agent_version')}: "
        f"pass rate {_signed_percent(comparison.get('pass_rate_delta'))}, "
        f"{comparison.get('fixed')} fixed, {comparison.get('regressed')} regressed, "
        f"cost/run {render.money(comparison.get('cost_per_run_delta_usd'))}, "
        f"p50 {_ms(comparison.get('p50_latency_delta_ms'))}"
    )
    return 0


def _signed_percent(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:+.1f} pts"


def register(cli: Commands) -> None:
    evals = cli.group("evals", "eval datasets, eval runs, results and comparisons")
    sub = evals.command(
        "import", cmd_datasets_import, "create a dataset from a pydantic-evals YAML/JSON file"
    )
    sub.add_argument("file", help="the dataset file (- reads stdin)")
    sub.add_argument("--name", help="the dataset's name (default: the file's)")
    sub = evals.command("datasets", cmd_datasets_list, "list your datasets")
    sub.add_argument("--limit", type=int, default=50)
    sub = evals.command("export", cmd_datasets_export, "a dataset as a pydantic-evals file")
    sub.add_argument("dataset")
    sub.add_argument("--format", choices=("yaml", "json"), default="yaml")
    sub.add_argument("--output", "-o", help="write to this file instead of stdout")
    sub = evals.command("run", cmd_evals_run, "run a dataset on an agent version and show the results")
    sub.add_argument("agent", help="agent id or name")
    sub.add_argument("dataset", help="dataset id")
    sub.add_argument("--version", type=int, help="the agent version (default: current)")
    sub.add_argument("--repeat", type=int, default=1, help="runs per case")
    sub.add_argument("--no-wait", action="store_true", help="print the eval id and return")
    sub.add_argument("--fail-under", type=float, help="exit 1 if the pass rate (0-1) is below this")
    sub = evals.command("show", cmd_evals_show, "an eval's results table and summary")
    sub.add_argument("eval")
    sub = evals.command("list", cmd_evals_list, "list your evals")
    sub.add_argument("--agent")
    sub.add_argument("--dataset")
    sub.add_argument("--limit", type=int, default=20)
    sub = evals.command("compare", cmd_evals_compare, "compare two evals of the same dataset")
    sub.add_argument("head", help="the newer eval")
    sub.add_argument("base", help="the eval to compare against")
