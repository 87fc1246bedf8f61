"""The agent factory: a stored definition (one pinned version) → a pydantic-ai ``Agent``.

- model and per-request settings from ``shared.execution.models`` (``max_tokens`` always sent);
- ``system_prompt`` as instructions;
- tools from the registry, bound to the owner's workspace;
- ``output_schema`` as structured output, *validated* against the schema (``StructuredDict``
  alone does not validate): a mismatch goes back to the model as a retry, and when the output
  retries are spent the run fails with ``output_validation_failed``;
- each delegate as a tool ``delegate_<name>`` that runs the other agent (depth-limited by
  ``MAX_DELEGATION_DEPTH``), with its usage counted into the calling run;
- usage limits from the definition, tightened (never loosened) by the request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

# This module is imported only when a run starts (never by an entry module at import time),
# and pydantic-ai resolves tool signatures at runtime, so import it at the top.
from pydantic_ai import Agent, RunContext
from pydantic_ai.usage import UsageLimits

from shared.agents.definition import AgentDefinition, Limits, ModelRef
from shared.errors import ServiceError, ValidationFailed
from shared.settings import get_settings

if TYPE_CHECKING:
    from pydantic_ai.settings import ModelSettings

_log = logging.getLogger(__name__)

DEFAULT_REQUEST_LIMIT = 50
OUTPUT_RETRIES = 2
TOOL_RETRIES = 2
_TOOL_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class RunDeps:
    """The deps every agent of a run shares (delegates inherit them)."""

    run_id: str
    owner_id: str
    depth: int
    usage_limits: UsageLimits
    on_file_written: Callable[[str], None] | None = None


@dataclass
class BuiltAgent:
    agent: Agent[RunDeps, Any]
    deps: RunDeps
    model_settings: ModelSettings
    usage_limits: UsageLimits
    limits: Limits
    structured: bool
    delegate_tools: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def timeout(self) -> float | None:
        return self.limits.timeout_seconds


def _tighter(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def effective_limits(definition: Limits, requested: Limits | None) -> Limits:
    """The definition's limits, each tightened by the request's (a request can never loosen one)."""
    if requested is None:
        return definition
    values = {
        name: _tighter(getattr(definition, name), getattr(requested, name)) for name in Limits.model_fields
    }
    return Limits.model_validate(values)


def usage_limits_for(limits: Limits) -> UsageLimits:
    return UsageLimits(
        request_limit=limits.max_requests or DEFAULT_REQUEST_LIMIT,
        tool_calls_limit=limits.max_tool_calls,
        input_tokens_limit=limits.max_input_tokens,
        output_tokens_limit=limits.max_output_tokens,
        total_tokens_limit=limits.max_total_tokens,
        cost_limit=Decimal(str(limits.max_cost_usd)) if limits.max_cost_usd is not None else None,
    )


def _schema_validator(schema: dict[str, Any]) -> Callable[[Any], list[str]]:
    import importlib

    validators: Any = importlib.import_module("jsonschema.validators")
    validator: Any = validators.validator_for(schema)(schema)

    def problems(value: Any) -> list[str]:
        found: list[str] = []
        errors: list[Any] = list(validator.iter_errors(value))
        for error in errors:
            path: list[Any] = list(error.absolute_path)
            where = "/".join(str(p) for p in path) or "(root)"
            found.append(f"{where}: {error.message}")
        return sorted(found)[:10]

    return problems


def delegate_tool_name(name: str, taken: set[str]) -> str:
    base = "delegate_" + (_TOOL_NAME_UNSAFE.sub("_", name).strip("_") or "agent")
    base = base[:60]
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    return candidate


def _delegate_tools(
    definition: AgentDefinition, deps: RunDeps, taken: set[str]
) -> tuple[list[Any], dict[str, str]]:
    """One tool per runnable delegate; none once the delegation depth is reached."""
    if not definition.delegates or deps.depth >= get_settings().max_delegation_depth:
        return [], {}
    from pydantic_ai import Tool

    from shared.agents.repository import load_current

    records = load_current(list(definition.delegates))
    tools: list[Any] = []
    names: dict[str, str] = {}
    for agent_id in definition.delegates:
        record = records.get(agent_id)
        if record is None or record.owner_id != deps.owner_id or record.definition.kind != "agent":
            _log.warning("delegate not runnable; not offered to the model", extra={"delegate_id": agent_id})
            continue
        tool_name = delegate_tool_name(record.definition.name, taken)
        taken.add(tool_name)
        names[tool_name] = agent_id
        delegate_definition = record.definition

        async def run_delegate(
            ctx: RunContext[RunDeps], input: str, _definition: AgentDefinition = delegate_definition
        ) -> str:
            built = build_agent(
                _definition,
                owner_id=ctx.deps.owner_id,
                run_id=ctx.deps.run_id,
                depth=ctx.deps.depth + 1,
                on_file_written=ctx.deps.on_file_written,
                usage_limits=ctx.deps.usage_limits,
            )
            # usage=ctx.usage: the delegate's requests, tokens and cost count into this run
            # (and against its limits).
            result = await built.agent.run(
                input,
                deps=built.deps,
                usage=ctx.usage,
                usage_limits=ctx.deps.usage_limits,
                model_settings=built.model_settings,
            )
            output = result.output
            return output if isinstance(output, str) else json.dumps(output)

        description = (
            f"Ask the agent '{record.definition.display_name or record.definition.name}' to do a task and "
            f"return its answer. {record.definition.description}".strip()
        )
        tools.append(Tool(run_delegate, name=tool_name, description=description[:1000], takes_ctx=True))
    return tools, names


def _refuse_retired(ref: ModelRef) -> None:
    """An agent created before its model was retired fails clearly, without calling Vertex."""
    from shared.agents.catalog import find_model

    info = find_model(ref.provider, ref.name)
    if info is not None and not info.enabled:
        raise ServiceError(
            f"model '{ref.name}' is retired: update the agent to a current model (GET /models)",
            code="model_not_found",
        )


def build_agent(
    definition: AgentDefinition,
    *,
    owner_id: str,
    run_id: str,
    depth: int = 0,
    requested_limits: Limits | None = None,
    on_file_written: Callable[[str], None] | None = None,
    usage_limits: UsageLimits | None = None,
    replay: Any = None,
) -> BuiltAgent:
    """A ready-to-run agent for ``definition`` acting for ``owner_id``.

    ``usage_limits`` (delegates) reuses the calling run's limits instead of the definition's.
    ``replay`` (``shared.runs.replay.ReplayTape``): the recorded responses are the model and
    the recorded results answer every tool call (the same agent otherwise).
    """
    from pydantic_ai import Agent, ModelRetry, StructuredDict
    from pydantic_ai.capabilities import NativeTool

    from shared.execution.models import model_for, model_settings_for
    from shared.execution.telemetry import instrumentation_capabilities
    from shared.tools.registry import ToolContext, build_tools
    from shared.workspace.sandbox import workspace_dir

    if definition.kind != "agent" or definition.model is None:
        raise ValidationFailed.field(
            "agent_id", "workflow agents are run by the workflow engine, not as a model"
        )
    _refuse_retired(definition.model)
    limits = effective_limits(definition.limits, requested_limits)
    limits_for_run = usage_limits or usage_limits_for(limits)
    deps = RunDeps(
        run_id=run_id,
        owner_id=owner_id,
        depth=depth,
        usage_limits=limits_for_run,
        on_file_written=on_file_written,
    )
    tool_ctx = ToolContext(
        user_id=owner_id, workspace=workspace_dir(owner_id), run_id=run_id, on_file_written=on_file_written
    )
    built_tools = build_tools(definition.tools, tool_ctx, definition.model.provider)
    taken = {getattr(t, "name", "") for t in built_tools.tools}
    delegate_tools, delegate_names = _delegate_tools(definition, deps, taken)
    capabilities: list[Any] = [NativeTool(t) for t in built_tools.native_tools]
    capabilities.extend(instrumentation_capabilities())
    if replay is not None:
        capabilities.append(replay.capability())

    toolsets: list[Any] = []
    if definition.mcp_servers:
        # The MCP client is imported only here: agents without MCP servers never load it.
        from shared.mcp_servers.toolsets import build_toolsets

        toolsets = build_toolsets(definition, owner_id, approvals=replay is None)
    structured = definition.output_schema is not None
    output_type: Any = (
        StructuredDict(definition.output_schema, name="final_result") if definition.output_schema else str
    )
    if replay is not None:
        # The recorded decisions are in the conversation: an approved call's result, or the
        # denial the model was sent, is played back like any other tool result.
        for tool in built_tools.tools:
            if getattr(tool, "requires_approval", False):
                tool.requires_approval = False
    mcp_approval = replay is None and any(
        ref.requires_approval is not False for ref in definition.mcp_servers
    )
    if mcp_approval or any(getattr(t, "requires_approval", False) for t in built_tools.tools):
        if depth > 0:
            # A delegate runs inside its caller's tool call, which cannot pause (agents that
            # could are refused when stored; this one gained such a tool since).
            raise ValidationFailed.field(
                "delegates",
                f"the delegate '{definition.name}' has tools that require approval, "
                "which delegates cannot ask for",
            )
        from pydantic_ai import DeferredToolRequests

        # Lets a run end paused with the calls that wait for a decision (requires_action).
        output_type = [output_type, DeferredToolRequests]
    agent: Agent[RunDeps, Any] = Agent(
        replay.model() if replay is not None else model_for(definition.model),
        output_type=output_type,
        instructions=definition.system_prompt or None,
        deps_type=RunDeps,
        tools=[*built_tools.tools, *delegate_tools],
        toolsets=toolsets or None,
        retries={"tools": TOOL_RETRIES, "output": OUTPUT_RETRIES},
        capabilities=capabilities or None,
        name=definition.name,
    )
    if definition.output_schema is not None:
        problems = _schema_validator(definition.output_schema)

        @agent.output_validator
        def _matches_schema(ctx: RunContext[RunDeps], output: Any) -> Any:  # pyright: ignore[reportUnusedFunction]
            if ctx.partial_output:
                return output
            found = problems(output)
            if found:
                raise ModelRetry("The output does not match the required JSON schema: " + "; ".join(found))
            return output

    return BuiltAgent(
        agent=agent,
        deps=deps,
        model_settings=model_settings_for(definition.model),
        usage_limits=limits_for_run,
        limits=limits,
        structured=structured,
        delegate_tools=delegate_names,
    )
