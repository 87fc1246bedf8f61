"""``agentctl files`` (my workspace) and ``agentctl runs artifacts`` (files a run wrote)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agentctl import render
from agentctl.api import Client, CliError
from agentctl.commands import Commands

ORDER = 55


def _remote(path: str) -> str:
    return quote(path.lstrip("/"), safe="/")


def _write_bytes(data: bytes, output: str | None, default_name: str) -> str:
    """Write to ``output`` (``-`` = stdout; a directory gets ``default_name``); returns where."""
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return "stdout"
    target = Path(output or Path(default_name).name)
    if target.is_dir():
        target = target / Path(default_name).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(target)


def cmd_files_put(args: argparse.Namespace, client: Client) -> int:
    local = Path(args.local)
    try:
        data = sys.stdin.buffer.read() if args.local == "-" else local.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.local}: {exc.strerror}") from None
    remote = args.remote or local.name
    if not remote or remote == "-":
        raise CliError("give the workspace path to write (files put - notes/today.txt)")
    stored = client.call(
        "PUT",
        f"/workspace/files/{_remote(remote)}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if args.json:
        render.print_json(stored)
    else:
        render.info(f"uploaded {stored.get('path')} ({render.count(stored.get('size'), 'byte')})")
    return 0


def cmd_files_get(args: argparse.Namespace, client: Client) -> int:
    response = client.request("GET", f"/workspace/files/{_remote(args.remote)}")
    where = _write_bytes(response.content, args.output, args.remote)
    if where != "stdout":
        render.info(f"downloaded {args.remote} to {where}")
    return 0


def cmd_files_ls(args: argparse.Namespace, client: Client) -> int:
    files = list(client.paginate("/workspace/files", params={"prefix": args.prefix}, limit=args.limit))
    if args.json:
        render.print_json(files)
    else:
        render.table(
            files,
            [("PATH", "path"), ("SIZE", "size"), ("UPDATED", "updated_at"), ("SHA256", "sha256")],
            empty="no files: `agentctl files put FILE`",
        )
    return 0


def cmd_files_rm(args: argparse.Namespace, client: Client) -> int:
    client.call("DELETE", f"/workspace/files/{_remote(args.remote)}")
    if args.json:
        render.print_json({"path": args.remote, "deleted": True})
    else:
        render.info(f"deleted {args.remote}")
    return 0


def cmd_runs_artifacts(args: argparse.Namespace, client: Client) -> int:
    run = client.get(f"/runs/{args.run}")
    artifacts: list[dict[str, Any]] = run.get("artifacts") or []
    if args.path:
        wanted = [a for a in artifacts if a.get("path") == args.path.lstrip("/")]
        if not wanted:
            raise CliError(
                f"run {args.run} has no artifact {args.path} (see `agentctl runs artifacts {args.run}`)"
            )
    elif args.output is None:
        if args.json:
            render.print_json(artifacts)
        else:
            render.table(
                artifacts,
                [("PATH", "path"), ("SIZE", "size"), ("SHA256", "sha256")],
                empty=f"run {args.run} wrote no files",
            )
        return 0
    else:
        wanted = artifacts
    for artifact in wanted:
        path = str(artifact["path"])
        response = client.request("GET", f"/runs/{args.run}/artifacts/{_remote(path)}")
        if args.path:
            where = _write_bytes(response.content, args.output, path)
        else:  # every artifact into the -o directory, keeping their paths
            where = _write_bytes(response.content, str(Path(args.output) / path), path)
        if where != "stdout":
            render.info(f"downloaded {path} to {where}")
    return 0


def register(cli: Commands) -> None:
    files = cli.group("files", "my workspace files (what the file tools see)")
    sub = files.command("put", cmd_files_put, "upload a file (- reads stdin)")
    sub.add_argument("local")
    sub.add_argument("remote", nargs="?", help="workspace path (default: the file's name)")
    sub = files.command("get", cmd_files_get, "download a file")
    sub.add_argument("remote")
    sub.add_argument("--output", "-o", help="file or directory (default: its name here; - for stdout)")
    sub = files.command("ls", cmd_files_ls, "list files")
    sub.add_argument("--prefix")
    sub.add_argument("--limit", type=int)
    sub = files.command("rm", cmd_files_rm, "delete a file")
    sub.add_argument("remote")

    runs = cli.group("runs")
    sub = runs.command("artifacts", cmd_runs_artifacts, "list or download the files a run wrote")
    sub.add_argument("run")
    sub.add_argument("path", nargs="?", help="download this artifact")
    sub.add_argument(
        "--output",
        "-o",
        help="with PATH: file or directory (- for stdout); without: download all into this directory",
    )
