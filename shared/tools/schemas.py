"""How ``GET /tools`` shows the registry (no pydantic-ai import)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.tools.registry import ToolCategory, list_tools


class ToolPublic(BaseModel):
    name: str
    description: str
    category: ToolCategory
    config_schema: dict[str, Any]
    requires_approval_default: bool
    available_providers: list[str]


def list_tool_metadata() -> list[ToolPublic]:
    return [
        ToolPublic(
            name=spec.name,
            description=spec.description,
            category=spec.category,
            config_schema=spec.config_schema(),
            requires_approval_default=spec.requires_approval_default,
            available_providers=spec.available_providers(),
        )
        for spec in list_tools()
    ]
