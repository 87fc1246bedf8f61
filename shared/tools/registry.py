"""The tool registry: metadata (name, description, config schema) and building.

Metadata never imports pydantic-ai — the agents function lists ``/tools`` and validates
tool configs on a cold instance; only :func:`build_tools` (called when a run starts) does.

Registering a new tool = one module under ``shared/tools/`` exposing ``TOOL: ToolSpec``, plus
one line in ``_TOOL_MODULES``.
"""

from __future__ import annotations

import functools
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from pydantic_ai import Tool

    from shared.agents.definition import ToolRef

ToolCategory = Literal["files", "web", "code", "data", "other"]

# One line per tool.
_TOOL_MODULES: tuple[str, ...] = (
    "shared.tools.file_read",
    "shared.tools.file_write",
    "shared.tools.grep",
    "shared.tools.find",
    "shared.tools.web_search",
)


@dataclass(frozen=True)
class ToolContext:
    """What a tool knows about the run it serves."""

    user_id: str
    workspace: Path
    run_id: str | None = None
    # Called with the workspace-relative path after every successful write (run artifacts).
    on_file_written: Callable[[str], None] | None = None


@dataclass
class ToolBuild:
    """Built tools: function tools for the agent, and provider-side (native) tools.

    ``native_tools`` holds ``pydantic_ai.native_tools.AbstractNativeTool`` instances (e.g.
    ``WebSearchTool``); pass them as ``Agent(capabilities=[NativeTool(t) for t in ...])``.
    """

    tools: list[Tool[Any]] = field(default_factory=list["Tool[Any]"])
    native_tools: list[Any] = field(default_factory=list[Any])

    def extend(self, other: ToolBuild) -> None:
        self.tools.extend(other.tools)
        self.native_tools.extend(other.native_tools)


class ToolConfig(BaseModel):
    """Base of every tool's config: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")

    requires_approval: bool | None = Field(
        default=None,
        description="Ask a human before each call; null uses the tool's default.",
    )


class ToolSpec(ABC):
    """One tool: its metadata, config model and builder."""

    name: ClassVar[str]
    description: ClassVar[str]
    category: ClassVar[ToolCategory] = "other"
    requires_approval_default: ClassVar[bool] = False
    config_model: ClassVar[type[ToolConfig]] = ToolConfig

    def available(self, provider: str) -> bool:
        """Whether an agent on ``provider`` can use this tool."""
        return True

    def available_providers(self) -> list[str]:
        from shared.agents.catalog import PROVIDERS

        return [p for p in PROVIDERS if self.available(p)]

    def provider_config_errors(self, config: Any, provider: str) -> list[tuple[str, str]]:
        """``(config field, message)`` for settings ``provider`` cannot apply."""
        return []

    def config_schema(self) -> dict[str, Any]:
        return self.config_model.model_json_schema()

    def parse_config(self, raw: dict[str, Any]) -> ToolConfig:
        """The validated config (raises ``pydantic.ValidationError``)."""
        return self.config_model.model_validate(raw)

    def requires_approval(self, config: ToolConfig) -> bool:
        return (
            self.requires_approval_default if config.requires_approval is None else config.requires_approval
        )

    @abstractmethod
    def build(self, config: Any, ctx: ToolContext) -> ToolBuild:
        """The pydantic-ai tools for one run (imports pydantic-ai)."""


@functools.cache
def _registry() -> dict[str, ToolSpec]:
    specs: dict[str, ToolSpec] = {}
    for module_name in _TOOL_MODULES:
        spec: ToolSpec = importlib.import_module(module_name).TOOL
        if spec.name in specs:
            raise RuntimeError(f"tool {spec.name!r} registered twice")
        specs[spec.name] = spec
    return specs


def list_tools() -> list[ToolSpec]:
    return list(_registry().values())


def get_tool(name: str) -> ToolSpec | None:
    return _registry().get(name)


def build_tools(refs: Sequence[ToolRef], ctx: ToolContext, provider: str) -> ToolBuild:
    """The enabled tools of a definition, with validated configs.

    Raises ``ValidationFailed`` (naming ``tools[i]``) for a tool that is unknown, unavailable
    on ``provider`` or misconfigured — definitions are validated when stored, so this only
    happens if the registry changed since.
    """
    from shared.agents.validation import tool_config_errors

    result = ToolBuild()
    for index, ref in enumerate(refs):
        if not ref.enabled:
            continue
        spec = get_tool(ref.name)
        errors = tool_config_errors(index, ref, provider)
        if spec is None or errors:
            from shared.errors import ValidationFailed

            raise ValidationFailed(f"tool '{ref.name}' cannot be used", details={"fields": errors})
        result.extend(spec.build(spec.parse_config(ref.config), ctx))
    return result
