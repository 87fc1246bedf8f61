"""agentctl for people (#22): files, sessions, templates, run artifacts, Ctrl-C cancelling on
the server, and the one-line errors — the real console script against the live stack."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import AGENTCTL, Cli, make_cli

__all__ = ["make_cli"]
pytestmark = pytest.mark.slow


def test_files_templates_sessions_and_run_artifacts(make_cli: Any, tmp_path: Path) -> None:
    cli: Cli = make_cli()
    cli.signup()
    listed = cli("templates", "list")
    assert "summarizer" in listed.out and "NAME" in listed.out
    shown = cli("templates", "show", "summarizer")
    assert "output_schema:" in shown.out and "agents create --template summarizer" in shown.err

    local = tmp_path / "notes.txt"
    local.write_text("remember the milk\n")
    put = cli("files", "put", str(local), "docs/notes.txt")
    assert put.err == "uploaded docs/notes.txt (18 bytes)\n"
    assert "docs/notes.txt" in cli("files", "ls").out
    assert cli("files", "get", "docs/notes.txt", "-o", "-").out == "remember the milk\n"
    cli("files", "get", "docs/notes.txt", "-o", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == "remember the milk\n"
    cli("files", "rm", "docs/notes.txt")
    assert cli("files", "ls", "--json").json() == []
    missing = cli("files", "get", "docs/notes.txt", check=False)
    assert missing.code == 1 and missing.err.startswith("error: ") and missing.err.count("\n") == 1

    cli("agents", "create", "--template", "code-reviewer", "--name", "writer")
    definition = cli("agents", "show", "writer", "--json").json()
    definition["tools"] = [{"name": "file_write", "enabled": True, "config": {}}]
    spec = tmp_path / "writer.json"
    spec.write_text(
        json.dumps(
            {
                k: v
                for k, v in definition.items()
                if k in {"name", "display_name", "description", "model", "system_prompt", "tools", "limits"}
            }
        )
    )
    tried = cli("run", "writer", "hello", "--draft", str(spec), "--json").json()  # unsaved: a draft run
    assert tried["draft"] is True and tried["agent_version"] == 1
    cli("agents", "update", "writer", "-f", str(spec))

    # A session by title: started with --session new --title, continued by its title.
    first = cli(
        "run",
        "writer",
        'call file_write {"path": "out/a.md", "content": "# A"}\nsay one',
        "--session",
        "new",
        "--title",
        "report work",
    )
    assert first.out == "one\n"  # two requests: the tool call, then the answer
    assert re.search(r"· 2 requests, \d+\+\d+ tokens, 1 tool call · \$\d+\.\d{6}$", first.err.strip())
    run_id = re.search(r"run ([0-9a-f]{32}) succeeded", first.err).group(1)  # type: ignore[union-attr]
    cli("run", "writer", "say two", "--session", "report work")
    sessions = cli("sessions", "list", "--json").json()
    assert [s["title"] for s in sessions] == ["report work"]
    assert sessions[0]["message_count"] >= 4  # 2 turns (the tool call and its result may count too)
    transcript = cli("sessions", "show", "report work").out
    assert "you: say two" in transcript and "agent: two" in transcript
    unknown = cli("run", "writer", "hi", "--session", "no such title", check=False)
    assert unknown.code == 1 and "no session titled 'no such title'" in unknown.err

    artifacts = cli("runs", "artifacts", run_id)
    assert "out/a.md" in artifacts.out
    cli("runs", "artifacts", run_id, "out/a.md", "-o", str(tmp_path / "a.md"))
    assert (tmp_path / "a.md").read_text() == "# A"
    cli("runs", "artifacts", run_id, "-o", str(tmp_path / "all"))
    assert (tmp_path / "all" / "out" / "a.md").read_text() == "# A"
    cli("sessions", "rm", "report work")
    assert cli("sessions", "list", "--json").json() == []

    # Costs have one format; one request is "1 request".
    one = cli("run", "writer", "say hi")
    assert re.search(r"· 1 request, \d+\+\d+ tokens, 0 tool calls · \$0\.\d{6}$", one.err.strip())
    listed_runs = cli("runs", "list").out
    assert re.search(r"writer\s+stream\s+succeeded\s+\$0\.\d{6}", listed_runs)


def test_ctrl_c_cancels_the_run_on_the_server(make_cli: Any) -> None:
    cli: Cli = make_cli()
    cli.signup()
    cli("agents", "create", "--template", "summarizer", "--name", "slow")
    process = subprocess.Popen(
        [str(AGENTCTL), "run", "slow", "pause 8\nsay too late"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the run exists on the server
            runs = cli("runs", "list", "--json").json()
            if runs and runs[0]["status"] == "running":
                break
            time.sleep(0.5)
        else:
            pytest.fail("the run never started")
        time.sleep(1)  # the stream is open and the run.started event has been read
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    run_id = runs[0]["id"]
    assert process.returncode == 130, err
    assert err.strip().endswith(f"error: interrupted: run {run_id} cancelled"), err
    assert "Traceback" not in err and "too late" not in out
    assert cli("runs", "show", run_id, "--json").json()["status"] == "cancelled"


def test_one_line_errors(make_cli: Any, tmp_path: Path) -> None:
    cli: Cli = make_cli()
    no_scheme = cli("--base-url", "127.0.0.1:8080", "whoami", check=False)
    assert no_scheme.code == 2
    assert no_scheme.err == (
        "error: base URL '127.0.0.1:8080' needs a scheme and a host: "
        "use http://127.0.0.1:8080 or https://127.0.0.1:8080\n"
    )
    bad_config = cli("config", "set", "base_url", "example.com", check=False)
    assert bad_config.code == 1 and "needs a scheme" in bad_config.err

    # Not logged in and the server is down: the real problem, not "not logged in".
    unreachable = cli("--base-url", "http://127.0.0.1:1", "agents", "list", check=False)
    assert unreachable.code == 1
    assert unreachable.err == "error: cannot reach http://127.0.0.1:1: connection refused\n"
    assert cli("agents", "list", check=False).err == "error: not logged in: run `agentctl login`\n"

    cli.signup()
    cli("agents", "create", "--template", "summarizer", "--name", "s")
    taken = cli("agents", "create", "--template", "summarizer", "--name", "s", check=False)
    assert taken.code == 1
    assert taken.err == (
        "error: you already have an agent named 's': choose another name (409 name_taken); "
        "pick another with --name NEW-NAME\n"
    )
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('"first"\n\n{"input": "second"}\n{"inptu": "third"}\n')
    wrong_key = cli("batch", "submit", str(inputs), "--agent", "s", check=False)
    assert wrong_key.code == 1
    assert wrong_key.err == (
        f"error: {inputs}:4: unknown field 'inptu' "
        '(a line is a JSON string, a list of parts, or {"input": ...})\n'
    )
    inputs.write_text('"first"\n[{"type": "text"}]\n')
    server_says = cli("batch", "submit", str(inputs), "--agent", "s", check=False)
    assert server_says.code == 1 and server_says.err.startswith(f"error: {inputs}:2: "), server_says.err
    assert "Traceback" not in server_says.err and server_says.err.count("\n") == 1
