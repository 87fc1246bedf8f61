"""The agent definition as users write it (API.md "definition") — structural validation only.

Semantic checks (model in the catalog, tools in the registry and their config, the
output schema being a JSON Schema, delegates existing, runnable and acyclic) live in
``shared.agents.validation`` because they need the catalog, registry and database.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from shared.agents.catalog import ModelEntry, ThinkingSupport

Provider = Literal["vertex-gemini", "vertex-anthropic"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
# The largest output-token limit (and thinking budget) any catalogued model takes.
MAX_TOKENS_CAP = 128_000
MAX_THINKING_BUDGET = 128_000


class Thinking(BaseModel):
    """How hard the model thinks before answering: an effort level or a token budget (one of them).

    Provider-neutral; checked against the model's ``thinking`` support in the catalog and
    mapped to Gemini's thinking budget / level or Claude's extended / adaptive thinking.
    """

    model_config = ConfigDict(extra="forbid")

    effort: Literal["off", "minimal", "low", "medium", "high"] | None = None
    budget_tokens: int | None = Field(default=None, ge=1, le=MAX_THINKING_BUDGET)

    @model_validator(mode="after")
    def _one_of(self) -> Thinking:
        if (self.effort is None) == (self.budget_tokens is None):
            raise ValueError("set exactly one of effort or budget_tokens")
        return self


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}], "default": None}


def _thinking_schema(support: ThinkingSupport | None) -> dict[str, Any]:
    """``model.thinking`` as one model group takes it (efforts, budget range), or null only."""
    if support is None:
        return {"type": "null", "default": None}
    efforts = [*(["off"] if support.can_disable else []), *support.efforts]
    forms: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"effort": {"enum": efforts, "type": "string"}, "budget_tokens": {"type": "null"}},
            "required": ["effort"],
            "additionalProperties": False,
        }
    ]
    if support.budget_min is not None and support.budget_max is not None:
        forms.append(
            {
                "type": "object",
                "properties": {
                    "effort": {"type": "null"},
                    "budget_tokens": {
                        "type": "integer",
                        "minimum": support.budget_min,
                        "maximum": min(support.budget_max, MAX_THINKING_BUDGET),
                    },
                },
                "required": ["budget_tokens"],
                "additionalProperties": False,
            }
        )
    return _nullable({"oneOf": forms} if len(forms) > 1 else forms[0])


def _group_key(entry: ModelEntry) -> str:
    """What makes two models' ``model`` schemas differ (provider, limits, sampling, thinking)."""
    return json.dumps(
        [
            entry.provider,
            entry.max_temperature,
            min(entry.max_output_tokens, MAX_TOKENS_CAP),
            sorted(entry.sampling),
            entry.sampling_exclusive,
            None if entry.thinking is None else entry.thinking.model_dump(exclude={"mode", "default_on"}),
        ],
        sort_keys=True,
    )


def _group_title(names: list[str]) -> str:
    """``ModelRef`` + the group's first model (``gemini-2.5-flash`` → ``ModelRefGemini25Flash``)."""
    first = min(names)
    return "ModelRef" + "".join(part.capitalize() for part in re.split(r"[^a-z0-9]+", first.lower()) if part)


NAME_RULE = (
    "a name is 1 to 63 characters: lowercase letters a-z, digits, '.', '_' or '-', "
    "starting with a letter or a digit (for example 'code-reviewer')"
)


def _explain_name(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """The name rule in words, not as pydantic's regular expression."""
    try:
        return handler(value)
    except ValidationError as exc:
        if any(e["type"] == "string_pattern_mismatch" for e in exc.errors()):
            raise PydanticCustomError("string_pattern_mismatch", NAME_RULE) from None
        raise


# An agent's name (unique per owner); the JSON Schema keeps the pattern.
AgentName = Annotated[str, Field(pattern=NAME_PATTERN), WrapValidator(_explain_name)]


def model_catalog_schema(schema: dict[str, Any]) -> None:
    """Document ``model`` as the catalog allows it: one branch per group of models that take the
    same settings, naming its models, their temperature and output-token caps, the sampling
    settings they take and their thinking (what validation checks; the few cross-field rules
    left, like Claude's temperature while thinking, are 422s documented in docs/API.md)."""
    from shared.agents.catalog import catalog_entries

    properties: dict[str, Any] = schema.pop("properties")
    schema.pop("required", None)
    schema.pop("type", None)
    schema.pop("additionalProperties", None)
    groups: dict[str, tuple[ModelEntry, list[str]]] = {}
    for entry in catalog_entries():
        if entry.enabled:
            groups.setdefault(_group_key(entry), (entry, []))[1].append(entry.name)
    branches: list[dict[str, Any]] = []
    for entry, names in groups.values():
        branch = dict(properties)
        branch["provider"] = {"const": entry.provider, "type": "string", "title": "Provider"}
        branch["name"] = {"enum": sorted(names), "type": "string", "title": "Name"}
        max_tokens = min(entry.max_output_tokens, MAX_TOKENS_CAP)
        branch["max_tokens"] = _nullable({"type": "integer", "minimum": 1, "maximum": max_tokens})
        temperature = {"type": "number", "minimum": 0.0, "maximum": entry.max_temperature}
        top_p = {"type": "number", "exclusiveMinimum": 0.0, "maximum": 1.0}
        branch["temperature"] = _nullable(temperature) if "temperature" in entry.sampling else _null()
        branch["top_p"] = _nullable(top_p) if "top_p" in entry.sampling else _null()
        branch["thinking"] = _thinking_schema(entry.thinking)
        item: dict[str, Any] = {
            "type": "object",
            "title": _group_title(names),
            "properties": branch,
            "required": ["provider", "name"],
            "additionalProperties": False,
        }
        if entry.sampling_exclusive:
            # 4.5-generation Claude: temperature or top_p, not both.
            item["not"] = {
                "properties": {"temperature": {"type": "number"}, "top_p": {"type": "number"}},
                "required": ["temperature", "top_p"],
            }
        branches.append(item)
    branches.sort(key=lambda b: b["title"])
    schema["oneOf"] = branches


def _null() -> dict[str, Any]:
    return {"type": "null", "default": None}


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=model_catalog_schema)

    provider: Provider
    name: str = Field(min_length=1, max_length=100)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_CAP)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    thinking: Thinking | None = None


class ToolRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict[str, Any])


class McpServerRef(BaseModel):
    """An MCP server (``/mcp-servers``) whose tools the agent may call, with the runner's credential."""

    model_config = ConfigDict(extra="forbid")

    server_id: str = Field(min_length=1, max_length=64)
    # Put before each tool name (``<prefix>_<tool>``) so two servers' tools cannot clash.
    tool_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,29}$")
    # Only these tools of the server (within the registration's own allowed_tools).
    allowed_tools: list[str] | None = Field(
        default=None, max_length=200, json_schema_extra={"uniqueItems": True}
    )
    # true: every tool call waits for a human decision (the default); false: none does; a
    # list: only calls of these tools do.
    requires_approval: bool | list[str] = True


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


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    return next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)


def kind_union_schema(schema: dict[str, Any]) -> None:
    """Document a definition as the union on ``kind`` the validator enforces: an ``agent``
    (``kind`` may be omitted) needs ``model`` and has no ``workflow`` (null at most); a ``workflow`` needs
    ``workflow``. The two forms are ``oneOf`` branches, so generated clients and fuzzers see
    exactly what is accepted."""
    properties: dict[str, Any] = schema.pop("properties")
    required: list[str] = schema.pop("required", [])
    schema.pop("type", None)
    schema.pop("additionalProperties", None)
    agent = dict(properties)
    # null is what the validator accepts for an agent's workflow (and what stored definitions echo).
    agent["workflow"] = {"type": "null", "default": None}
    agent["kind"] = {"const": "agent", "default": "agent", "type": "string", "title": "Kind"}
    agent["model"] = _non_null(properties["model"])
    workflow = dict(properties)
    workflow["kind"] = {"const": "workflow", "type": "string", "title": "Kind"}
    workflow["workflow"] = _non_null(properties["workflow"])
    # A workflow has no model, tools or delegates of its own (its steps' agents do).
    workflow["model"] = {"type": "null", "default": None}
    workflow["tools"] = {"type": "array", "maxItems": 0, "items": {}, "default": []}
    workflow["delegates"] = {"type": "array", "maxItems": 0, "items": {"type": "string"}, "default": []}
    workflow["mcp_servers"] = {"type": "array", "maxItems": 0, "items": {}, "default": []}
    schema["oneOf"] = [
        {
            "type": "object",
            "title": "AgentKindAgent",
            "properties": agent,
            "required": [*required, "model"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "AgentKindWorkflow",
            "properties": workflow,
            "required": [*required, "kind", "workflow"],
            "additionalProperties": False,
        },
    ]


class AgentDefinition(BaseModel):
    """What ``POST /agents`` and ``PUT /agents/{id}`` accept (and versions store)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=kind_union_schema)

    name: AgentName
    display_name: str | None = Field(default=None, max_length=120)
    description: str = Field(default="", max_length=4000)
    kind: Literal["agent", "workflow"] = "agent"
    model: ModelRef | None = None
    system_prompt: str = Field(default="", max_length=100_000)
    tools: list[ToolRef] = Field(default_factory=list[ToolRef], max_length=32)
    output_schema: dict[str, Any] | None = None
    delegates: list[str] = Field(
        default_factory=list[str], max_length=16, json_schema_extra={"uniqueItems": True}
    )
    workflow: Workflow | None = None
    limits: Limits = Field(default_factory=Limits)
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    mcp_servers: list[McpServerRef] = Field(default_factory=list[McpServerRef], max_length=10)

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
        servers = [m.server_id for m in self.mcp_servers]
        if len(set(servers)) != len(servers):
            raise ValueError("mcp_servers must not repeat a server_id")
        if self.kind == "workflow" and self.mcp_servers:
            raise ValueError("a workflow has no MCP servers of its own (its steps' agents do)")
        for ref in self.mcp_servers:
            if ref.allowed_tools is not None and len(set(ref.allowed_tools)) != len(ref.allowed_tools):
                raise ValueError("mcp_servers allowed_tools must not repeat")
        return self
