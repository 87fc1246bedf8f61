"""The agent definition as users write it (API.md "definition") — structural validation only.

Semantic checks (model in the catalog, tools in the registry and their config, the
output schema being a JSON Schema, delegates existing, runnable and acyclic) live in
``shared.agents.validation`` because they need the catalog, registry and database.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Provider = Literal["vertex-gemini", "vertex-anthropic"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class Thinking(BaseModel):
    """How hard the model thinks before answering: an effort level or a token budget (one of them).

    Provider-neutral; checked against the model's ``thinking`` support in the catalog and
    mapped to Gemini's thinking budget / level or Claude's extended / adaptive thinking.
    """

    model_config = ConfigDict(extra="forbid")

    effort: Literal["off", "minimal", "low", "medium", "high"] | None = None
    budget_tokens: int | None = Field(default=None, ge=1, le=128_000)

    @model_validator(mode="after")
    def _one_of(self) -> Thinking:
        if (self.effort is None) == (self.budget_tokens is None):
            raise ValueError("set exactly one of effort or budget_tokens")
        return self


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    name: str = Field(min_length=1, max_length=100)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=128_000)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    thinking: Thinking | None = None


class ToolRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict[str, Any])


class Limits(BaseModel):
    """Per-run usage limits; a request's ``limits`` may only tighten them."""

    model_config = ConfigDict(extra="forbid")

    max_requests: int | None = Field(default=None, ge=1, le=500)
    max_tool_calls: int | None = Field(default=None, ge=0, le=1000)
    max_input_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    max_output_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    max_total_tokens: int | None = Field(default=None, ge=1, le=20_000_000)
    max_cost_usd: float | None = Field(default=None, gt=0.0, le=1000.0)
    timeout_seconds: float | None = Field(default=None, gt=0.0, le=3600.0)


class WorkflowStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=64)
    input_template: str = Field(default="{{input}}", max_length=20_000)


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[WorkflowStep] = Field(min_length=1, max_length=20)


class AgentDefinition(BaseModel):
    """What ``POST /agents`` and ``PUT /agents/{id}`` accept (and versions store)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    display_name: str | None = Field(default=None, max_length=120)
    description: str = Field(default="", max_length=4000)
    kind: Literal["agent", "workflow"] = "agent"
    model: ModelRef | None = None
    system_prompt: str = Field(default="", max_length=100_000)
    tools: list[ToolRef] = Field(default_factory=list[ToolRef], max_length=32)
    output_schema: dict[str, Any] | None = None
    delegates: list[str] = Field(default_factory=list[str], max_length=16)
    workflow: Workflow | None = None
    limits: Limits = Field(default_factory=Limits)
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])

    @model_validator(mode="after")
    def _kind_matches(self) -> AgentDefinition:
        if self.kind == "agent" and self.model is None:
            raise ValueError("model is required for an agent (kind 'agent')")
        if self.kind == "workflow" and self.workflow is None:
            raise ValueError("workflow is required when kind is 'workflow'")
        if self.kind == "agent" and self.workflow is not None:
            raise ValueError("workflow is only allowed when kind is 'workflow'")
        if len(set(self.delegates)) != len(self.delegates):
            raise ValueError("delegates must not repeat")
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise ValueError("tools must not repeat")
        return self
