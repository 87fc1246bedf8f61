"""A typed client generated from ``/openapi.json`` by ``openapi-python-client`` (issue 21):
it generates without warnings and works for register → login → create agent → run."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveStack

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def generated_client(live_stack: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp_path = tmp_path_factory.mktemp("generated-client")
    document = requests.get(f"{live_stack.base_url}/openapi.json", timeout=30).json()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    package = f"agents_client_{uuid.uuid4().hex[:8]}"
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / package),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Unable to" not in output, output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]


def test_generated_client_imports_every_module(generated_client: Any) -> None:
    """Every generated module imports (a name the generator forgot fails here)."""
    import pkgutil

    modules = [
        m.name for m in pkgutil.walk_packages(generated_client.__path__, generated_client.__name__ + ".")
    ]
    assert any(name.endswith(".api.auth.login") for name in modules), modules
    for name in modules:
        importlib.import_module(name)


def test_generated_client_registers_logs_in_creates_an_agent_and_runs_it(
    live_stack: LiveStack, generated_client: Any
) -> None:
    name = f"gen_{uuid.uuid4().hex[:8]}"
    api = importlib.import_module(f"{generated_client.__name__}.api")
    models = importlib.import_module(f"{generated_client.__name__}.models")
    register = importlib.import_module(f"{api.__name__}.auth.register")
    login = importlib.import_module(f"{api.__name__}.auth.login")
    oauth_token = importlib.import_module(f"{api.__name__}.auth.oauth_token")
    create_agent = importlib.import_module(f"{api.__name__}.agents.create_agent")
    create_run = importlib.import_module(f"{api.__name__}.runs.create_run")

    anonymous = generated_client.Client(base_url=live_stack.base_url, raise_on_unexpected_status=True)
    user = register.sync(
        client=anonymous,
        body=models.UserCreate(username=name, email=f"{name}@example.com", password=PASSWORD),
    )
    assert isinstance(user, models.UserPublic) and user.username == name

    # JSON login, and the OAuth2 password grant at the token endpoint (form-encoded).
    tokens = login.sync(client=anonymous, body=models.LoginRequest(username=name, password=PASSWORD))
    assert isinstance(tokens, models.TokenPair), tokens
    form_tokens = oauth_token.sync(
        client=anonymous, body=models.PasswordGrant(grant_type="password", username=name, password=PASSWORD)
    )
    assert isinstance(form_tokens, models.TokenPair), form_tokens

    client = generated_client.AuthenticatedClient(
        base_url=live_stack.base_url, token=tokens.access_token, raise_on_unexpected_status=True
    )
    agent = create_agent.sync(
        client=client,
        body=models.AgentKindAgent(
            name="generated-client-agent",
            model=models.ModelRefGemini25Flash(
                provider="vertex-gemini", name=models.ModelRefGemini25FlashName.GEMINI_2_5_FLASH
            ),
            system_prompt="Answer briefly.",
        ),
        idempotency_key=f"create-{name}",
    )
    assert isinstance(agent, models.AgentPublic), agent
    assert agent.version == 1 and agent.kind == models.AgentPublicKind.AGENT

    run = create_run.sync(client=client, body=models.RunCreate(agent_id=agent.id, input_="Say hello."))
    assert isinstance(run, models.RunPublic), run
    assert run.agent_id == agent.id and run.status == models.RunPublicStatus.SUCCEEDED
    assert run.output

    queued = create_run.sync_detailed(
        client=client,
        body=models.RunCreate(agent_id=agent.id, input_="Later.", mode=models.RunCreateMode.ASYNC),
    )
    assert queued.status_code == 202 and isinstance(queued.parsed, models.RunPublic), queued
