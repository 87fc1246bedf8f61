"""agentctl and human approval (issue 16): `runs approve` for scripts, and `run` asking on a
terminal — the real console script against the live stack."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import AGENTCTL, Cli, make_cli  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

AGENT_YAML = """
name: scribe
model: {provider: vertex-gemini, name: gemini-2.5-flash}
system_prompt: You keep notes.
tools:
  - name: file_write
    config: {requires_approval: true}
"""
PROMPT = 'Note it\ncall file_write {"path": "cli/note.txt", "content": "from the cli"}'


def _agent(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "scribe.yaml"
    spec.write_text(AGENT_YAML)
    cli("agents", "create", "-f", str(spec))


def test_runs_approve_and_deny_from_a_script(make_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    cli = make_cli()
    cli.signup()
    _agent(cli, tmp_path)
    paused = cli("run", "scribe", PROMPT, check=False)
    assert paused.code == 3, paused.err
    run_id = re.search(r"run ([0-9a-f]{32}) waits for approval", paused.err)
    assert run_id, paused.err
    shown = cli("runs", "show", run_id.group(1), "--json").json()
    assert shown["status"] == "requires_action"
    assert shown["required_action"]["items"][0]["tool_name"] == "file_write"

    approved = cli("runs", "approve", run_id.group(1), "--json").json()
    assert approved["status"] == "succeeded" and approved["approvals"][0]["approve"] is True
    assert "Tool file_write returned" in approved["output"]
    again = cli("runs", "approve", run_id.group(1), check=False)
    assert again.code == 1 and "does not wait" in again.err

    second = cli("run", "scribe", PROMPT, check=False)
    second_id = re.search(r"run ([0-9a-f]{32}) waits", second.err)
    assert second_id
    denied = cli(
        "runs", "approve", second_id.group(1), "--deny", "--reason", "no notes today", "--json"
    ).json()
    assert denied["status"] == "succeeded"
    assert denied["approvals"][0] == {**denied["approvals"][0], "approve": False, "reason": "no notes today"}


def test_run_asks_on_a_terminal_and_streams_the_continuation(make_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    cli = make_cli()
    cli.signup()
    _agent(cli, tmp_path)
    controller, terminal = os.openpty()
    try:
        os.write(controller, b"y\n")
        done = subprocess.run(
            [str(AGENTCTL), "run", "scribe", PROMPT],
            stdin=terminal,
            capture_output=True,
            text=True,
            env=cli.env,
            timeout=240,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 0, done.stderr
    assert "the agent wants to call file_write(" in done.stderr
    assert "Tool file_write returned" in done.stdout
    run_id = re.search(r"run ([0-9a-f]{32}) succeeded", done.stderr)
    assert run_id, done.stderr
    run = cli("runs", "show", run_id.group(1), "--json").json()
    assert run["approvals"][0]["approve"] is True and run["status"] == "succeeded"
