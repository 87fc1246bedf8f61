"""Semantic validation of agent definitions (422 naming the field).

Structure (types, ranges, required fields) is checked by pydantic when the body is parsed;
this module checks what needs the catalog, the tool registry and the database:
model in the catalog and its limits, tools registered / available / configured, the output
schema being a JSON Schema for an object, and delegates / workflow steps that exist, are
runnable by the caller and do not form a cycle through stored agents.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.agents.catalog import find_model
from shared.agents.definition import AgentDefinition, ToolRef
from shared.agents.model_checks import model_setting_problems
from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

MAX_OUTPUT_SCHEMA_BYTES = 64 * 1024
# Agents visited while looking for a delegation cycle: bounds the work of one validation.
MAX_GRAPH_NODES = 500

FieldError = dict[str, str]


def _error(loc: str, message: str, error_type: str = "value_error") -> FieldError:
    return {"loc": loc, "message": message, "type": error_type}


def _loc(parts: tuple[int | str, ...]) -> str:
    """pydantic's location tuple as ``a.b[1].c``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def tool_config_errors(index: int, ref: ToolRef, provider: str | None) -> list[FieldError]:
    """Problems with ``tools[index]``: unknown, unavailable on ``provider``, bad config."""
    from shared.tools.registry import get_tool

    base = f"tools[{index}]"
    spec = get_tool(ref.name)
    if spec is None:
        return [_error(f"{base}.name", f"unknown tool '{ref.name}'", "unknown_tool")]
    errors: list[FieldError] = []
    if provider is not None and not spec.available(provider):
        errors.append(
            _error(
                f"{base}.name", f"tool '{ref.name}' is not available for provider '{provider}'", "unavailable"
            )
        )
    try:
        config = spec.parse_config(ref.config)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            loc = _loc(tuple(err["loc"]))
            errors.append(_error(f"{base}.config" + (f".{loc}" if loc else ""), err["msg"], err["type"]))
        return errors
    if provider is not None:
        errors.extend(
            _error(f"{base}.config.{name}", message, "unsupported")
            for name, message in spec.provider_config_errors(config, provider)
        )
    return errors


def _model_errors(definition: AgentDefinition) -> list[FieldError]:
    model = definition.model
    if model is None:
        return []
    info = find_model(model.provider, model.name)
    if info is None:
        return [
            _error(
                "model.name", f"unknown model '{model.name}' for provider '{model.provider}'", "unknown_model"
            )
        ]
    errors: list[FieldError] = []
    if not info.enabled:
        errors.append(_error("model.name", f"model '{model.name}' is retired", "unavailable"))
    if model.max_tokens is not None and model.max_tokens > info.max_output_tokens:
        errors.append(
            _error(
                "model.max_tokens",
                f"must be at most {info.max_output_tokens} for '{model.name}'",
                "less_than_equal",
            )
        )
    if model.temperature is not None and model.temperature > info.max_temperature:
        errors.append(
            _error(
                "model.temperature",
                f"must be at most {info.max_temperature} for '{model.name}'",
                "less_than_equal",
            )
        )
    errors.extend(_error(loc, message, kind) for loc, message, kind in model_setting_problems(model, info))
    if definition.tools and not info.supports_tools:
        errors.append(_error("tools", f"model '{model.name}' does not support tools"))
    for index, ref in enumerate(definition.tools):
        if ref.name == "web_search" and not info.supports_web_search:
            errors.append(
                _error(
                    f"tools[{index}].name", f"model '{model.name}' has no native web search", "unavailable"
                )
            )
    return errors


def _output_schema_errors(schema: dict[str, Any] | None) -> list[FieldError]:
    if schema is None:
        return []
    if len(json.dumps(schema)) > MAX_OUTPUT_SCHEMA_BYTES:
        return [_error("output_schema", f"must be at most {MAX_OUTPUT_SCHEMA_BYTES} bytes as JSON")]
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return [
            _error(
                "output_schema",
                f"not a valid JSON Schema: {exc.message[:200]}" + (f" (at {where})" if where else ""),
                "invalid_schema",
            )
        ]
    if schema.get("type") != "object":
        return [_error("output_schema", 'must describe a JSON object ("type": "object")', "invalid_schema")]
    return []


def _edges(record: AgentRecord) -> list[str]:
    """The agents ``record`` calls: its delegates and its workflow steps."""
    definition = record.definition
    steps = [s.agent_id for s in definition.workflow.steps] if definition.workflow else []
    return [*definition.delegates, *steps]


def _reaches(start: list[str], target: str) -> bool | None:
    """Whether ``target`` is reachable from ``start`` through stored agents (None: graph too large)."""
    from shared.agents.repository import load_current

    seen: set[str] = set()
    frontier = [a for a in dict.fromkeys(start) if a != target]
    while frontier:
        seen.update(frontier)
        if len(seen) > MAX_GRAPH_NODES:
            return None
        records = load_current(frontier)
        following: list[str] = []
        for record in records.values():
            for callee in _edges(record):
                if callee == target:
                    return True
                if callee not in seen:
                    following.append(callee)
        frontier = list(dict.fromkeys(following))
    return False


def _callee_errors(
    callees: list[tuple[str, str]], principal: Principal, agent_id: str | None
) -> list[FieldError]:
    """Check ``(loc, agent_id)`` pairs: exist, runnable by the caller, no cycle back to ``agent_id``."""
    from shared.agents.repository import load_current

    if not callees:
        return []
    errors: list[FieldError] = []
    found = load_current([callee for _, callee in callees])
    runnable: list[str] = []
    for loc, callee in callees:
        if agent_id is not None and callee == agent_id:
            errors.append(_error(loc, "an agent cannot call itself", "cycle"))
            continue
        record = found.get(callee)
        # Others' agents are reported exactly like missing ones (no existence leak).
        if record is None or record.owner_id != principal.user_id:
            errors.append(_error(loc, f"agent '{callee}' not found or not runnable by you", "not_found"))
            continue
        if _asks_for_approval(record.definition):
            errors.append(
                _error(
                    loc,
                    f"agent '{callee}' has tools that require approval; delegates and workflow steps "
                    "cannot pause a run for a decision (run that agent directly, or turn approval off)",
                    "approval_not_supported",
                )
            )
            continue
        runnable.append(callee)
    if agent_id is not None and not errors:
        for loc, callee in callees:
            reached = _reaches([callee], agent_id)
            if reached is None:
                errors.append(_error(loc, "the delegation graph is too large to check", "too_large"))
                break
            if reached:
                errors.append(_error(loc, f"agent '{callee}' calls back into this agent (cycle)", "cycle"))
    return errors


def approval_tools(definition: AgentDefinition) -> list[str]:
    """The enabled tools of ``definition`` that require a human decision before each call."""
    from shared.tools.registry import get_tool

    names: list[str] = []
    for ref in definition.tools:
        spec = get_tool(ref.name)
        if spec is None or not ref.enabled:
            continue
        try:
            config = spec.parse_config(ref.config)
        except ValidationError:
            continue
        if spec.requires_approval(config):
            names.append(ref.name)
    return names


def _asks_for_approval(definition: AgentDefinition) -> bool:
    return bool(approval_tools(definition)) or any(
        ref.requires_approval is not False for ref in definition.mcp_servers
    )


def _mcp_server_errors(definition: AgentDefinition, principal: Principal) -> list[FieldError]:
    """Each MCP server must be a registration of the agent's owner."""
    if not definition.mcp_servers:
        return []
    from shared.mcp_servers.repository import load_servers

    found = load_servers([ref.server_id for ref in definition.mcp_servers])
    errors: list[FieldError] = []
    for index, ref in enumerate(definition.mcp_servers):
        server = found.get(ref.server_id)
        if server is None or server.owner_id != principal.user_id:
            errors.append(
                _error(
                    f"mcp_servers[{index}].server_id", f"MCP server '{ref.server_id}' not found", "not_found"
                )
            )
    return errors


def mcp_approval_markers(definition: AgentDefinition) -> list[str]:
    """What the definition's MCP servers ask approval for, as ``mcp:<server id>:*`` (every
    tool) or ``mcp:<server id>:<tool>`` entries (kept with an installed copy's source)."""
    markers: list[str] = []
    for ref in definition.mcp_servers:
        if ref.requires_approval is True:
            markers.append(f"mcp:{ref.server_id}:*")
        elif isinstance(ref.requires_approval, list):
            markers.extend(f"mcp:{ref.server_id}:{tool}" for tool in ref.requires_approval)
    return markers


def _mcp_approval_errors(definition: AgentDefinition, required: list[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, ref in enumerate(definition.mcp_servers):
        wanted = [m.split(":", 2)[2] for m in required if m.startswith(f"mcp:{ref.server_id}:")]
        if not wanted or ref.requires_approval is True:
            continue
        kept = ref.requires_approval if isinstance(ref.requires_approval, list) else []
        if "*" in wanted or not set(wanted) <= set(kept):
            errors.append(
                _error(
                    f"mcp_servers[{index}].requires_approval",
                    "the listing this agent was installed from requires approval for these MCP tools; "
                    "an installed copy may not turn it off",
                    "approval_required_by_publisher",
                )
            )
    return errors


def publisher_approval_errors(definition: AgentDefinition, required: list[str]) -> list[FieldError]:
    """An installed agent may make tools stricter, never looser: every enabled tool the
    publisher's definition asks approval for must still ask for it (MCP tools too)."""
    strict = set(approval_tools(definition))
    errors: list[FieldError] = _mcp_approval_errors(definition, required)
    for index, ref in enumerate(definition.tools):
        if ref.enabled and ref.name in required and ref.name not in strict:
            errors.append(
                _error(
                    f"tools[{index}].config.requires_approval",
                    f"the listing this agent was installed from requires approval for '{ref.name}'; "
                    "an installed copy may not turn it off",
                    "approval_required_by_publisher",
                )
            )
    return errors


def definition_errors(
    definition: AgentDefinition, principal: Principal, *, agent_id: str | None = None
) -> list[FieldError]:
    """Every problem found, in field order (empty when the definition is valid)."""
    errors: list[FieldError] = []
    provider = definition.model.provider if definition.model else None
    if definition.kind == "workflow":
        if definition.tools:
            errors.append(_error("tools", "a workflow has no tools of its own (its steps' agents do)"))
        if definition.delegates:
            errors.append(_error("delegates", "a workflow has no delegates (use steps)"))
        if definition.model is not None:
            errors.append(_error("model", "a workflow has no model of its own (its steps' agents do)"))
    errors.extend(_model_errors(definition))
    for index, ref in enumerate(definition.tools):
        errors.extend(tool_config_errors(index, ref, provider))
    errors.extend(_output_schema_errors(definition.output_schema))
    errors.extend(_mcp_server_errors(definition, principal))
    callees = [(f"delegates[{i}]", a) for i, a in enumerate(definition.delegates)]
    if definition.workflow is not None:
        callees += [
            (f"workflow.steps[{i}].agent_id", s.agent_id) for i, s in enumerate(definition.workflow.steps)
        ]
    errors.extend(_callee_errors(callees, principal, agent_id))
    if definition.workflow is not None:
        errors.extend(_workflow_errors(definition, principal))
    return errors


def _workflow_errors(definition: AgentDefinition, principal: Principal) -> list[FieldError]:
    """Step templates only use ``{{input}}`` / earlier steps; steps are agents, not workflows."""
    from shared.agents.repository import load_current
    from shared.execution.workflow import template_errors

    assert definition.workflow is not None
    steps = definition.workflow.steps
    errors: list[FieldError] = []
    for index, step in enumerate(steps):
        loc = f"workflow.steps[{index}].input_template"
        problems = template_errors(step.input_template, index)
        errors.extend(_error(loc, problem, "invalid_template") for problem in problems)
    found = load_current([step.agent_id for step in steps])
    for index, step in enumerate(steps):
        record = found.get(step.agent_id)
        if record is not None and record.owner_id == principal.user_id and record.definition.kind != "agent":
            loc = f"workflow.steps[{index}].agent_id"
            errors.append(_error(loc, "a workflow step must be an agent, not a workflow"))
    return errors


def validate_definition(
    definition: AgentDefinition, principal: Principal, *, agent_id: str | None = None
) -> None:
    """Raise ``ValidationFailed`` (422) listing every field that is wrong.

    ``agent_id`` is the agent being updated (None when creating): needed to find cycles.
    """
    errors = definition_errors(definition, principal, agent_id=agent_id)
    if errors:
        names = ", ".join(e["loc"] for e in errors[:5])
        raise ValidationFailed(f"invalid agent definition: {names}", details={"fields": errors})
