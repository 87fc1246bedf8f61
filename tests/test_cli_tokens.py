"""agentctl with personal access tokens (issue 18): create/list/revoke, `--token`,
`AGENTCTL_TOKEN`, and `login --with-token`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import make_cli  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def test_token_lifecycle_and_token_login(make_cli: Any, tmp_path: Path) -> None:  # noqa: F811
    owner = make_cli()
    username = owner.signup()
    created = owner("tokens", "create", "ci", "--scope", "agents:read", "--scope", "runs", "--json").json()
    secret = created["secret"]
    assert secret.startswith("agpat_") and created["token"]["scopes"] == ["agents:read", "runs"]

    # A fresh machine: no login, the token from the flag or the environment.
    ci = make_cli()
    assert ci("whoami", "--json", check=False).code != 0
    assert ci("--token", secret, "whoami", "--json").json()["username"] == username
    ci.env["AGENTCTL_TOKEN"] = secret
    assert ci("agents", "list", "--json").code == 0
    del ci.env["AGENTCTL_TOKEN"]
    # A scope the token lacks: a clear error, not a crash.
    denied = ci("--token", secret, "agents", "create", "--help", check=False)
    assert denied.code == 0  # help needs no call
    refused = ci("--token", secret, "tokens", "list", check=False)
    assert refused.code == 1 and "interactive_login_required" in refused.err

    # login --with-token stores it.
    ci("login", "--with-token", stdin=secret + "\n")
    assert ci.credentials()["access_token"] == secret
    assert ci("whoami", "--json").json()["username"] == username

    listed = owner("tokens", "list", "--json").json()
    assert [t["id"] for t in listed] == [created["token"]["id"]]
    owner("tokens", "revoke", created["token"]["id"])
    after = ci("whoami", check=False)
    assert after.code == 1 and "unauthorized" in after.err
