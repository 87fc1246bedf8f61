"""``web_search``: the model provider's native (server-side) web search.

Gemini on Vertex grounds with Google Search; Claude on Vertex has Anthropic's basic web
search tool. Gemini's search applies none of the restricting settings (domains, max uses),
so those are refused for ``vertex-gemini`` rather than silently ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from shared.tools.registry import ToolBuild, ToolConfig, ToolContext, ToolSpec

_PROVIDERS = frozenset({"vertex-gemini", "vertex-anthropic"})
_RESTRICTING = ("allowed_domains", "blocked_domains", "max_uses")


class WebSearchConfig(ToolConfig):
    max_uses: int | None = Field(
        default=None, ge=1, le=50, description="Most searches per run (Claude only)."
    )
    allowed_domains: list[str] | None = Field(
        default=None, max_length=50, description="Only these domains (Claude only)."
    )
    blocked_domains: list[str] | None = Field(
        default=None, max_length=50, description="Never these domains (Claude only)."
    )

    @model_validator(mode="after")
    def _one_domain_filter(self) -> WebSearchConfig:
        if self.allowed_domains and self.blocked_domains:
            raise ValueError("set allowed_domains or blocked_domains, not both")
        for domain in [*(self.allowed_domains or []), *(self.blocked_domains or [])]:
            if not domain or len(domain) > 253 or not all(c.isalnum() or c in ".-" for c in domain):
                raise ValueError(f"invalid domain {domain[:60]!r}")
        return self


class WebSearchToolSpec(ToolSpec):
    name = "web_search"
    description = "Search the web with the model provider's native search (results are cited by the model)."
    category = "web"
    config_model = WebSearchConfig

    def available(self, provider: str) -> bool:
        return provider in _PROVIDERS

    def provider_config_errors(self, config: Any, provider: str) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if config.requires_approval:
            # The provider runs the search inside its own response: there is no call to pause on.
            errors.append(("requires_approval", "runs at the provider: it cannot wait for approval"))
        if provider != "vertex-gemini":
            return errors
        return errors + [
            (name, f"not supported by provider '{provider}'")
            for name in _RESTRICTING
            if getattr(config, name) is not None
        ]

    def build(self, config: WebSearchConfig, ctx: ToolContext) -> ToolBuild:
        from pydantic_ai.native_tools import WebSearchTool

        native = WebSearchTool(
            max_uses=config.max_uses,
            allowed_domains=config.allowed_domains,
            blocked_domains=config.blocked_domains,
        )
        return ToolBuild(native_tools=[native])


TOOL = WebSearchToolSpec()
