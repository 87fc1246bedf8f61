"""The seven Cloud Functions: the single table the gateway, dev stack, packaging and infra checks read."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shared.web.routing import Router

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    entry_point: str
    signature: Literal["http", "cloudevent"]
    dev_port: int
    # Direct dependencies (names from pyproject.toml) this function's package installs;
    # tools/package.py exports them with their pinned closure from uv.lock.
    requirements: tuple[str, ...] = ()

    @property
    def source(self) -> Path:
        return ROOT / "functions" / self.name / "main.py"


# Every function: the framework, Firestore, settings; shared.auth imports pyjwt at module level.
_BASE = (
    "functions-framework",
    "google-auth",
    "google-cloud-firestore",
    "pydantic",
    "pydantic-settings",
    "pyjwt",
)
# HTTP functions verify access tokens (signing key from Secret Manager) and Firebase ID tokens.
_HTTP = (*_BASE, "firebase-admin", "google-cloud-secret-manager")
# Validating agent definitions: the model catalog (pydantic-ai), output schemas, templates.
_AGENT_DEFINITIONS = ("pydantic-ai-slim", "jsonschema", "pyyaml")
# Running agents: pydantic-ai (Gemini + Claude on Vertex), web tools, run messages on Pub/Sub.
_AGENT_RUNTIME = (*_AGENT_DEFINITIONS, "requests", "google-cloud-pubsub")
# Webhooks (Standard Webhooks signatures) and schedules (cron expressions); schedules start runs.
_AUTOMATION = (*_AGENT_RUNTIME, "standardwebhooks", "croniter")

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("auth", "auth_api", "http", 8801, requirements=(*_HTTP, "argon2-cffi")),
    FunctionSpec("agents", "agents_api", "http", 8802, requirements=(*_HTTP, *_AGENT_DEFINITIONS)),
    # The MCP server (`mcp`) and A2A (`a2a-sdk`'s protocol models) answer on /mcp and /a2a.
    FunctionSpec("runs", "runs_api", "http", 8803, requirements=(*_HTTP, *_AGENT_RUNTIME, "mcp", "a2a-sdk")),
    # Installing a listing creates an agent, so it validates definitions like `agents` does.
    # Publishing a listing with an eval dataset fans its verification eval out as async runs.
    FunctionSpec(
        "marketplace",
        "marketplace_api",
        "http",
        8804,
        requirements=(*_HTTP, *_AGENT_DEFINITIONS, "google-cloud-pubsub"),
    ),
    FunctionSpec("worker", "run_worker", "cloudevent", 8805, requirements=(*_BASE, *_AGENT_RUNTIME)),
    FunctionSpec("automation", "automation_api", "http", 8806, requirements=(*_HTTP, *_AUTOMATION)),
    # Webhook deliveries, run-result fan-out and schedule ticks (shared/dispatcher.py).
    FunctionSpec("dispatcher", "dispatch_event", "cloudevent", 8807, requirements=(*_BASE, *_AUTOMATION)),
)

HTTP_FUNCTIONS = tuple(f for f in FUNCTIONS if f.signature == "http")


def spec(name: str) -> FunctionSpec:
    return next(f for f in FUNCTIONS if f.name == name)


def load_router(function: FunctionSpec) -> Router:
    """Import a function's entry module under a unique name and return its route table."""
    module_name = f"_fn_{function.name}_main"
    module = sys.modules.get(module_name)
    if module is None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        loader_spec = importlib.util.spec_from_file_location(module_name, function.source)
        assert loader_spec is not None and loader_spec.loader is not None
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    return module.router


def routers() -> list[Router]:
    return [load_router(f) for f in HTTP_FUNCTIONS]


def openapi_document() -> dict[str, object]:
    from shared.web.openapi import build_openapi

    return build_openapi(routers())
