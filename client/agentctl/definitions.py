"""Agent definition files (YAML or JSON) and the ``@name`` placeholders they may use.

A router must name its delegates by id, which only exists once the delegate is created.
So a definition file may write ``@summarizer`` wherever an agent id goes (``delegates``
entries and workflow ``steps[].agent_id``); agentctl replaces it with the id of the
caller's agent called ``summarizer`` before sending the definition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentctl.api import CliError

AGENT_ID = re.compile(r"^[0-9a-f]{32}$")


def load_file(path: str) -> Any:
    """Parse a YAML or JSON file (``-`` reads stdin); JSON is valid YAML, so YAML parses both."""
    import sys

    if path == "-":
        text = sys.stdin.read()
        name = "<stdin>"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from None
        name = path
    if name.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise CliError(f"{name}: invalid YAML{where}") from None


def load_definition(path: str) -> dict[str, Any]:
    data = load_file(path)
    if not isinstance(data, dict):
        raise CliError(f"{path}: an agent definition must be a mapping")
    return data


def resolve_placeholders(definition: dict[str, Any], lookup: Callable[[str], str]) -> dict[str, Any]:
    """Replace ``@name`` agent references by ids (``lookup(name) -> id``)."""
    resolved = dict(definition)
    delegates = resolved.get("delegates")
    if isinstance(delegates, list):
        resolved["delegates"] = [_resolve(item, lookup) for item in delegates]
    workflow = resolved.get("workflow")
    if isinstance(workflow, dict) and isinstance(workflow.get("steps"), list):
        steps = [
            {**step, "agent_id": _resolve(step.get("agent_id"), lookup)} if isinstance(step, dict) else step
            for step in workflow["steps"]
        ]
        resolved["workflow"] = {**workflow, "steps": steps}
    return resolved


def _resolve(value: Any, lookup: Callable[[str], str]) -> Any:
    if isinstance(value, str) and value.startswith("@") and len(value) > 1:
        return lookup(value[1:])
    return value
