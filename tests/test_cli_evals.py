"""``agentctl evals`` and ``agentctl runs replay|fork|messages`` against the live stack (issue 20)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import make_cli  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

DATASET = """\
name: greetings
cases:
- name: hello
  inputs: say hello
  expected_output: hello
- name: bye
  inputs: say bye
  expected_output: hello
evaluators:
- EqualsExpected
"""

AGENT = """\
name: {name}
model: {{provider: vertex-gemini, name: gemini-2.5-flash}}
system_prompt: {prompt}
tools: [{{name: file_write}}]
"""


def test_evals_from_yaml_run_show_and_compare(make_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    cli = make_cli()
    cli.signup()
    (tmp_path / "agent.yaml").write_text(AGENT.format(name="greeter", prompt="You greet."))
    agent = cli("agents", "create", "-f", str(tmp_path / "agent.yaml"), "--json").json()
    (tmp_path / "greetings.yaml").write_text(DATASET)
    dataset_id = cli("evals", "import", str(tmp_path / "greetings.yaml")).out.strip()

    first = cli("evals", "run", "greeter", dataset_id)
    assert re.search(r"hello\s+0\s+pass", first.out) and re.search(r"bye\s+0\s+FAIL", first.out), first.out
    assert "pass rate 50.0% (1/2)" in first.err
    (tmp_path / "agent.yaml").write_text(AGENT.format(name="greeter", prompt="You greet warmly."))
    cli("agents", "update", "greeter", "-f", str(tmp_path / "agent.yaml"))
    second = cli("evals", "run", "greeter", dataset_id, "--json").json()
    assert second["agent_version"] == 2 and len(second["results"]) == 2
    gated = cli("evals", "run", "greeter", dataset_id, "--fail-under", "0.9", check=False)
    assert gated.code == 1 and "below 90.0%" in gated.err

    listed = cli("evals", "list", "--agent", agent["id"], "--json").json()
    assert len(listed) == 3
    shown = cli("evals", "show", second["id"])
    assert re.search(r"bye\s+0\s+FAIL", shown.out), shown.out
    compared = cli("evals", "compare", second["id"], listed[-1]["id"])
    assert re.search(r"hello\s+pass\s+pass\s+unchanged_pass", compared.out), compared.out
    assert "v1 → v2" in compared.err and "0 regressed" in compared.err
    exported = cli("evals", "export", dataset_id).out
    assert "name: greetings" in exported and "EqualsExpected" in exported


def test_runs_replay_fork_and_messages(make_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    cli = make_cli()
    cli.signup()
    (tmp_path / "agent.yaml").write_text(AGENT.format(name="writer", prompt="You write."))
    cli("agents", "create", "-f", str(tmp_path / "agent.yaml"))
    prompt = 'Save it\ncall file_write {"path": "notes.txt", "content": "x"}'
    run = cli("run", "writer", prompt, "--json").json()
    messages = cli("runs", "messages", run["id"])
    assert re.search(r"^\s+1\s+response\s+call file_write", messages.out, re.M), messages.out

    replayed = cli("runs", "replay", run["id"])
    assert "replay matched: 2 model responses and 1 tool results played back" in replayed.err
    assert replayed.out.strip() == run["output"]
    replayed_json = cli("runs", "replay", run["id"], "--async", "--json").json()
    assert replayed_json["replay"]["matched"] is True and replayed_json["cost_usd"] == 0

    forked = cli("runs", "fork", run["id"], "--at", "0", "--input", "say forked", "--json").json()
    assert forked["output"] == "forked" and forked["fork_of"] == run["id"]
    (tmp_path / "agent.yaml").write_text(AGENT.format(name="writer", prompt="You write tersely."))
    cli("agents", "update", "writer", "-f", str(tmp_path / "agent.yaml"))
    diverged = cli("runs", "replay", run["id"], "--version", "2", check=False)
    assert diverged.code == 1
    assert "replay diverged at step 0 (message 0): instructions_changed" in diverged.err
