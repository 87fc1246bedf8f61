"""The walkthroughs run as written (#22): every ```bash block of README.md, docs/cli.md,
docs/auth.md and docs/offline-model.md is executed against the live stack, so the docs
cannot drift from the behaviour. All four run on the one stack of the session, in one
order, which also proves each uses its own example user (a second "ada" would be a 409).

Walkthrough steps are fenced ```bash; reference snippets with placeholders (``RUN``, ``ID``)
are fenced ```sh and are not run. Only what cannot run here is left out of a bash block:
``make dev`` / ``make test`` (the stack is already up) and activating the virtualenv
(``agentctl`` is on PATH). The local address
``http://127.0.0.1:8080`` becomes the live stack's. ``curl`` fails on an HTTP error status
(``--fail-with-body``), and every block runs with ``set -eu``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
WALKTHROUGHS = ("README.md", "docs/cli.md", "docs/auth.md", "docs/offline-model.md")
LOCAL_URL = "http://127.0.0.1:8080"
PASSWORD = "correct horse battery"
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
_NOT_HERE = re.compile(r"^\s*(make (dev|test)|source \.venv/bin/activate)\b")
_PRELUDE = """set -eu
curl() { command curl --fail-with-body --max-time 120 "$@"; }
"""

pytestmark = pytest.mark.slow


def shell_blocks(text: str) -> list[str]:
    """The ```bash blocks of a Markdown text, without the lines that cannot run here."""
    return [
        "\n".join(line for line in block.splitlines() if not _NOT_HERE.match(line))
        for block in _BLOCK.findall(text)
    ]


def test_shell_blocks_are_found_and_filtered() -> None:
    text = "x\n```bash\nmake dev   # starts\nsource .venv/bin/activate\necho hi\n```\n```python\nno\n```\n"
    assert shell_blocks(text) == ["echo hi"]
    for doc in WALKTHROUGHS:
        assert shell_blocks((ROOT / doc).read_text()), f"{doc} has no bash block"


@pytest.fixture(scope="module")
def walkthrough_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch working directory with the repository's examples (files the CLI writes land here)."""
    work = tmp_path_factory.mktemp("walkthrough")
    (work / "examples").symlink_to(ROOT / "examples")
    (work / "config").mkdir()
    return work


@pytest.mark.parametrize("doc", WALKTHROUGHS)
def test_walkthrough_runs_against_the_live_stack(doc: str, live_stack: Any, walkthrough_dir: Path) -> None:
    script = "\n".join(shell_blocks((ROOT / doc).read_text())).replace(LOCAL_URL, live_stack.base_url)
    assert script.strip()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTCTL_")},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AGENTCTL_BASE_URL": live_stack.base_url,
        "AGENTCTL_PASSWORD": PASSWORD,
        "XDG_CONFIG_HOME": str(walkthrough_dir / "config" / Path(doc).stem),
    }
    done = subprocess.run(
        ["bash", "-c", _PRELUDE + script],
        cwd=walkthrough_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (
        f"{doc} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
