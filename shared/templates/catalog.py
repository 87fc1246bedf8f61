"""The built-in templates: ``shared/templates/*.yaml``, loaded once per instance.

A template file is an agent definition (the same fields users send to ``POST /agents``) plus
one template-only key, ``delegate_templates``: names of other templates that are instantiated
for the caller, and whose new agents become the definition's ``delegates`` (agent ids cannot
be shipped). Every template is checked by ``shared.agents.validation`` in the tests.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from shared.agents.definition import AgentDefinition
from shared.errors import NotFound

TEMPLATE_DIR = Path(__file__).resolve().parent


class TemplatePublic(BaseModel):
    """``GET /templates`` item: the template's name, what it is for, and the definition it creates."""

    name: str
    display_name: str | None = None
    description: str = ""
    delegate_templates: list[str] = Field(default_factory=list[str])
    definition: AgentDefinition


def _load(path: Path) -> TemplatePublic:
    import yaml

    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"template {path.name} is not a mapping")
    data: dict[str, Any] = dict(raw)  # pyright: ignore[reportUnknownArgumentType]
    delegates: Any = data.pop("delegate_templates", None) or []
    definition = AgentDefinition.model_validate(data)
    if definition.name != path.stem:
        raise ValueError(f"template {path.name} must be named '{path.stem}'")
    return TemplatePublic(
        name=definition.name,
        display_name=definition.display_name,
        description=definition.description,
        delegate_templates=[str(d) for d in delegates],  # pyright: ignore[reportUnknownVariableType]
        definition=definition,
    )


@functools.cache
def _templates() -> dict[str, TemplatePublic]:
    found = {t.name: t for t in (_load(p) for p in sorted(TEMPLATE_DIR.glob("*.yaml")))}
    for template in found.values():
        for name in template.delegate_templates:
            if name not in found:
                raise ValueError(f"template '{template.name}' delegates to unknown template '{name}'")
    return found


def list_templates() -> list[TemplatePublic]:
    return list(_templates().values())


def get_template(name: str) -> TemplatePublic:
    template = _templates().get(name)
    if template is None:
        raise NotFound(f"template '{name}' not found", details={"template": name})
    return template
