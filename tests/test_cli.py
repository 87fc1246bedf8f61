"""agentctl end to end: the real console script against the live stack (gateway + functions
as processes + worker via Pub/Sub push), with its own config dir per user."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AGENTCTL = Path(sys.executable).parent / "agentctl"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.slow


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs ``agentctl`` as a subprocess with an isolated XDG config dir."""

    def __init__(self, base_url: str, home: Path) -> None:
        self.home = home
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTCTL_")},
            "XDG_CONFIG_HOME": str(home),
            "AGENTCTL_BASE_URL": base_url,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.base_url = base_url

    def __call__(
        self, *args: str, stdin: str | None = None, check: bool = True, cwd: Path | None = None
    ) -> Result:
        done = subprocess.run(
            [str(AGENTCTL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd,
            timeout=240,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise AssertionError(f"agentctl {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return result

    @property
    def credentials_file(self) -> Path:
        return self.home / "agentctl" / "credentials.json"

    def credentials(self) -> dict[str, Any]:
        return json.loads(self.credentials_file.read_text())[self.base_url]

    def signup(self, username: str | None = None) -> str:
        name = username or f"cli_{uuid.uuid4().hex[:10]}"
        self(
            "register",
            "--username",
            name,
            "--email",
            f"{name}@example.com",
            "--password-stdin",
            stdin=f"{PASSWORD}\n",
        )
        self("login", "--username", name, "--password-stdin", stdin=f"{PASSWORD}\n")
        return name


@pytest.fixture
def make_cli(live_stack: Any, tmp_path: Path) -> Any:
    def factory() -> Cli:
        home = tmp_path / uuid.uuid4().hex[:8]
        home.mkdir()
        return Cli(live_stack.base_url, home)

    return factory


def _run_id_from(stderr: str) -> str:
    match = re.search(r"run ([0-9a-f]{32}) succeeded", stderr)
    assert match, f"no run summary in stderr: {stderr!r}"
    return match.group(1)


def test_login_agents_from_yaml_and_marketplace_round_trip(make_cli: Any, tmp_path: Path) -> None:
    cli = make_cli()
    username = cli.signup()

    # Tokens are stored privately.
    mode = stat.S_IMODE(cli.credentials_file.stat().st_mode)
    assert mode == 0o600
    assert cli.credentials()["username"] == username
    assert cli("whoami", "--json").json()["username"] == username

    # Create the three examples; the router's @name placeholders become the delegates' ids.
    reviewer = cli("agents", "create", "-f", str(EXAMPLES / "code-reviewer.yaml"), "--json").json()
    summarizer = cli("agents", "create", "-f", str(EXAMPLES / "summarizer.yaml"), "--json").json()
    router = cli("agents", "create", "-f", str(EXAMPLES / "router.yaml"), "--json").json()
    assert [t["name"] for t in reviewer["tools"]] == ["grep", "find"]
    assert summarizer["output_schema"]["required"] == ["title", "summary", "key_points"]
    assert sorted(router["delegates"]) == sorted([reviewer["id"], summarizer["id"]])
    listed = cli("agents", "list", "--json").json()
    assert {a["name"] for a in listed} == {"code-reviewer", "summarizer", "router"}
    human = cli("agents", "list").out
    assert "code-reviewer" in human and reviewer["id"] in human
    shown = cli("agents", "show", "summarizer", "--json").json()
    assert shown["id"] == summarizer["id"]

    # Update creates version 2; a stale If-Match is a conflict.
    updated = cli(
        "agents",
        "update",
        "code-reviewer",
        "-f",
        str(EXAMPLES / "code-reviewer.yaml"),
        "--if-match",
        "1",
        "--json",
    ).json()
    assert updated["version"] == 2
    stale = cli(
        "agents",
        "update",
        "code-reviewer",
        "-f",
        str(EXAMPLES / "code-reviewer.yaml"),
        "--if-match",
        "1",
        check=False,
    )
    assert stale.code == 1 and "409" in stale.err

    # Marketplace round trip: publish, search, second user installs, rates, downloads.
    listing_id = cli(
        "market",
        "publish",
        "code-reviewer",
        "--category",
        "coding",
        "--tag",
        "code",
        "--summary",
        "Reviews code with grep and find",
    ).out.strip()
    found = cli("market", "search", "code", "--json").json()
    assert listing_id in [item["id"] for item in found]
    assert listing_id in cli("market", "search", "code").out
    assert "coding" in [line.split()[0] for line in cli("market", "categories").out.splitlines()]

    buyer = make_cli()
    buyer.signup()
    installed = buyer("market", "install", listing_id, "--json").json()
    assert installed["name"] == "code-reviewer" and installed["id"] != reviewer["id"]
    assert installed["source"]
    assert [a["id"] for a in buyer("agents", "list", "--json").json()] == [installed["id"]]
    buyer("market", "rate", listing_id, "4", "--review", "useful")
    shown_listing = buyer("market", "show", listing_id, "--json").json()
    assert shown_listing["stats"]["rating_count"] == 1 and shown_listing["stats"]["rating_avg"] == 4
    assert "4.00 (1 ratings)" in buyer("market", "show", listing_id).out
    bundle_path = tmp_path / "bundle.json"
    buyer("market", "download", listing_id, "-o", str(bundle_path))
    bundle = json.loads(bundle_path.read_text())
    assert bundle["definition"]["name"] == "code-reviewer"

    own_rating = cli("market", "rate", listing_id, "5", check=False)
    assert own_rating.code == 1 and own_rating.err.startswith("error: ")

    # Delete removes the agent.
    cli("agents", "delete", "router")
    assert "router" not in {a["name"] for a in cli("agents", "list", "--json").json()}


def test_streamed_async_and_batch_runs(make_cli: Any, tmp_path: Path) -> None:
    cli = make_cli()
    cli.signup()
    reviewer = cli("agents", "create", "-f", str(EXAMPLES / "code-reviewer.yaml"), "--json").json()
    cli("agents", "create", "-f", str(EXAMPLES / "summarizer.yaml"))

    # Streamed run: the text printed is the run's output, delivered as several deltas.
    streamed = cli("run", "code-reviewer", "say The code looks fine to me overall")
    assert streamed.out.strip() == "The code looks fine to me overall"
    run_id = _run_id_from(streamed.err)
    run = cli("runs", "show", run_id, "--json").json()
    assert run["status"] == "succeeded" and run["output"] == "The code looks fine to me overall"
    stored = [json.loads(line) for line in cli("runs", "events", run_id, "--json").out.splitlines()]
    assert stored[0]["event"] == "run.started" and stored[-1]["event"] == "run.completed"
    assert "text.delta" in {e["event"] for e in stored}

    # The stream itself arrives word by word: several deltas that add up to the output.
    live = [
        json.loads(line)
        for line in cli("run", "code-reviewer", "say one two three four", "--events").out.splitlines()
    ]
    deltas = [e["data"]["delta"] for e in live if e["event"] == "text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == "one two three four"
    assert live[-1]["event"] == "run.completed" and live[-1]["data"]["run"]["output"] == "one two three four"

    # An answer the output limit cut succeeds, and the CLI says it was cut.
    cut = cli("run", "code-reviewer", "finish length\nsay one two three four five six seven")
    assert cut.out.strip() == "one two three four five"
    assert "answer cut at the output limit" in cut.err
    shown = cli("runs", "show", _run_id_from(cut.err)).out
    assert "length (answer cut at the output limit)" in shown
    assert "succeeded (cut)" in cli("runs", "list").out

    # A streamed run with a tool call shows it on stderr.
    with_tool = cli("run", "code-reviewer", 'call find {"pattern": "*.py"}\nsay Found nothing to review')
    assert "→ find(" in with_tool.err and "← find" in with_tool.err
    assert with_tool.out.strip() == "Found nothing to review"

    # Async run: queued, executed by the worker, waited for; structured output.
    async_run = cli("run", "summarizer", "Summarize: functions scale to zero.", "--async", "--json").json()
    assert async_run["mode"] == "async" and async_run["status"] == "succeeded"
    assert set(async_run["output"]) >= {"title", "summary", "key_points"}
    followed = cli("runs", "events", async_run["id"], "--follow", "--json").out.splitlines()
    assert json.loads(followed[-1])["event"] == "run.completed"

    # Batch: progress on stderr, one JSONL result per input line.
    results = tmp_path / "results.jsonl"
    batch = cli(
        "batch",
        "submit",
        str(EXAMPLES / "batch-inputs.jsonl"),
        "--agent",
        "code-reviewer",
        "-o",
        str(results),
    )
    assert "3/3" in batch.err and "succeeded 3" in batch.err
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 3
    assert {r["status"] for r in rows} == {"succeeded"}
    assert all(r["agent_id"] == reviewer["id"] for r in rows)
    assert "cut at the output limit" not in batch.err

    # A batch result the output limit cut: the JSONL line says so, and stderr too.
    cut_inputs = tmp_path / "cut.jsonl"
    cut_inputs.write_text(json.dumps("finish length\nsay one two three four five six seven") + "\n")
    cut_batch = cli("batch", "submit", str(cut_inputs), "--agent", "code-reviewer")
    assert json.loads(cut_batch.out)["finish_reason"] == "length"
    assert "1 answer cut at the output limit" in cut_batch.err


def test_errors_are_one_line_with_nonzero_exit(make_cli: Any, tmp_path: Path) -> None:
    cli = make_cli()
    not_logged_in = cli("agents", "list", check=False)
    assert not_logged_in.code == 1
    assert not_logged_in.err == "error: not logged in: run `agentctl login`\n"

    cli.signup()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: broken\nmodel: {provider: vertex-gemini, name: gemini-2.5-flash}\n"
        "tools: [{name: no_such_tool}]\n"
    )
    result = cli("agents", "create", "-f", str(bad), check=False)
    assert result.code == 1
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "422" in lines[0] and "tools" in lines[0]
    assert cli("agents", "list", "--json").json() == []  # nothing was written

    missing = cli("agents", "show", "f" * 32, check=False)
    assert missing.code == 1 and len(missing.err.splitlines()) == 1 and "404" in missing.err
    unknown_name = cli("run", "nobody", "hi", check=False)
    assert unknown_name.code == 1 and "no agent named 'nobody'" in unknown_name.err

    wrong = make_cli()
    denied = wrong(
        "login", "--username", "nobody_here", "--password-stdin", stdin="wrong-password\n", check=False
    )
    assert denied.code == 1 and "401" in denied.err and not wrong.credentials_file.exists()

    usage = cli("run", check=False)
    assert usage.code == 2


def test_expired_access_token_is_refreshed_and_rotated(make_cli: Any) -> None:
    cli = make_cli()
    cli.signup()
    before = cli.credentials()
    stored = json.loads(cli.credentials_file.read_text())
    stored[cli.base_url]["access_token"] = "not-a-valid-token"
    cli.credentials_file.write_text(json.dumps(stored))

    assert cli("agents", "list", "--json").json() == []
    after = cli.credentials()
    assert after["access_token"] not in (before["access_token"], "not-a-valid-token")
    assert after["refresh_token"] != before["refresh_token"]
    assert stat.S_IMODE(cli.credentials_file.stat().st_mode) == 0o600

    cli("logout")
    assert cli.base_url not in json.loads(cli.credentials_file.read_text())
    assert cli("agents", "list", check=False).code == 1


def test_base_url_flag_beats_env_and_config(make_cli: Any) -> None:
    cli = make_cli()
    cli("config", "set", "base_url", "http://127.0.0.1:9")
    env_only = cli("config", "show", "--json").json()
    assert env_only["effective_base_url"] == cli.base_url  # env beats config
    flagged = cli("--base-url", "http://127.0.0.1:1", "market", "search", check=False)
    assert flagged.code == 1 and flagged.err == "error: cannot reach http://127.0.0.1:1: connection refused\n"


def test_batch_progress_line_reports_lost_inputs() -> None:
    from client.agentctl.commands.batch import _batch_line  # pyright: ignore[reportPrivateUsage]

    batch: dict[str, Any] = {
        "id": "b1",
        "total": 5,
        "counts": {"queued": 0, "running": 0, "succeeded": 2, "failed": 3, "cancelled": 0},
        "inputs_lost": 0,
    }
    assert "lost" not in _batch_line(batch) and "5/5" in _batch_line(batch)
    assert _batch_line({**batch, "inputs_lost": 3}).endswith("(inputs lost 3)")


def test_webhooks_and_schedules_commands(make_cli: Any) -> None:
    from standardwebhooks.webhooks import Webhook

    from tests.webhook_receiver import webhook_receiver

    cli = make_cli()
    cli.signup()
    agent = cli("agents", "create", "-f", str(EXAMPLES / "summarizer.yaml"), "--json").json()
    with webhook_receiver() as receiver:
        created = cli(
            "webhooks", "create", "--url", receiver.url, "--event", "run.completed", "--json"
        ).json()
        hook_id, secret = created["webhook"]["id"], created["secret"]
        assert secret.startswith("whsec_")
        human = cli("webhooks", "create", "--url", receiver.url, "--event", "run.failed")
        assert "whsec_" in human.out and "not shown again" in human.err
        assert hook_id in cli("webhooks", "list").out
        tested = cli("webhooks", "test", hook_id, "--json").json()
        assert tested["status"] == "succeeded"
        Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
        log = cli("webhooks", "deliveries", hook_id, "--json").json()
        assert [d["event_type"] for d in log] == ["webhook.test"]
        assert "webhook.test" in cli("webhooks", "deliveries", hook_id).out
        assert cli("webhooks", "redeliver", hook_id, log[0]["id"], "--json").json()["status"] == "pending"
        assert cli("webhooks", "pause", hook_id, "--json").json()["status"] == "disabled"
        assert cli("webhooks", "resume", hook_id, "--json").json()["status"] == "active"
        rotated = cli("webhooks", "rotate-secret", hook_id, "--json").json()
        assert rotated["secret"] != secret
    schedule = cli(
        "schedules",
        "create",
        "summarizer",
        "--cron",
        "0 9 * * 1-5",
        "--timezone",
        "Europe/Berlin",
        "--input",
        "summarise the news",
        "--json",
    ).json()
    assert schedule["agent_id"] == agent["id"] and schedule["next_run_at"]
    assert schedule["id"] in cli("schedules", "list").out
    assert cli("schedules", "pause", schedule["id"], "--json").json()["status"] == "paused"
    assert cli("schedules", "resume", schedule["id"], "--json").json()["status"] == "active"
    run = cli("schedules", "run-now", schedule["id"], "--json").json()
    assert run["schedule_id"] == schedule["id"]
    assert [r["id"] for r in cli("schedules", "runs", schedule["id"], "--json").json()] == [run["id"]]
    bad = cli("schedules", "create", "summarizer", "--cron", "61 * * * *", "--input", "x", check=False)
    assert bad.code != 0 and "cron" in bad.err and "\n" not in bad.err.strip()
    cli("schedules", "delete", schedule["id"])
    cli("webhooks", "delete", hook_id)
    assert hook_id not in cli("webhooks", "list", "--json").out


def test_mcp_servers_commands(make_cli: Any) -> None:
    from tests.mcp_server_fixture import mcp_server

    cli = make_cli()
    cli.signup()
    with mcp_server(tokens={"cli-token"}) as server:
        created = cli(
            "mcp-servers", "add", "--name", "tools", "--url", server.url, "--auth", "bearer", "--json"
        )
        server_id = created.json()["id"]
        assert created.json()["connected"] is False
        assert server_id in cli("mcp-servers", "list").out
        cli("mcp-servers", "connect", server_id, "--token-stdin", stdin="cli-token\n")
        assert cli("mcp-servers", "show", server_id, "--json").json()["connected"] is True
        listed = cli("mcp-servers", "tools", server_id, "--json").json()
        assert sorted(t["name"] for t in listed["tools"]) == ["add", "echo", "whoami"]
        assert server.seen_tokens[-1] == "cli-token"
        server.add_tool("cli_late")
        assert "cli_late" in cli("mcp-servers", "tools", server_id, "--refresh").out
        shown = cli("mcp-servers", "show", server_id)
        assert "cli_late" in shown.out and "mcp-servers accept" in shown.err
        assert cli("mcp-servers", "accept", server_id, "cli_late", "--json").json()["pending_tools"] == []
        cli("mcp-servers", "disconnect", server_id)
        assert cli("mcp-servers", "show", server_id, "--json").json()["connected"] is False
        cli("mcp-servers", "delete", server_id)
        assert server_id not in cli("mcp-servers", "list", "--json").out
