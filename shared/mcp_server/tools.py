"""The caller's runnable agents as MCP tool definitions (names, input and output schemas)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.runs.schemas import MAX_TEXT_CHARS

if TYPE_CHECKING:
    from mcp_types import Tool

    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

MAX_PAGES = 10  # 1000 agents, as GET /v1/models

# Every agent takes a prompt; a session continues a conversation with the same agent.
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT_CHARS,
            "description": "The prompt for the agent.",
        },
        "session_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "Optional: continue this session of the agent (POST /sessions creates one).",
        },
    },
    "required": ["input"],
    "additionalProperties": False,
}
# MCP's outputSchema must describe an object; other output schemas are wrapped in this key.
WRAPPED_KEY = "result"


@dataclass(frozen=True)
class AgentTool:
    """One agent as a tool: ``name`` is the agent's name, or its id where the name is shared."""

    name: str
    agent: AgentRecord

    @property
    def output_schema(self) -> dict[str, Any] | None:
        schema = self.agent.definition.output_schema
        if schema is None:
            return None
        if schema.get("type") == "object":
            return schema
        return {"type": "object", "properties": {WRAPPED_KEY: schema}, "required": [WRAPPED_KEY]}

    @property
    def wraps_output(self) -> bool:
        schema = self.agent.definition.output_schema
        return schema is not None and schema.get("type") != "object"

    def definition(self) -> Tool:
        from mcp_types import Tool, ToolAnnotations

        agent = self.agent.definition
        description = agent.description.strip() or f"Run the agent '{agent.name}'."
        return Tool(
            name=self.name,
            title=agent.display_name or agent.name,
            description=description,
            input_schema=INPUT_SCHEMA,
            output_schema=self.output_schema,
            # A run acts (tools, workspace files) and is billed: neither read-only nor idempotent.
            annotations=ToolAnnotations(
                title=agent.display_name or agent.name,
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=False,
                open_world_hint=True,
            ),
            _meta={"agent_id": self.agent.id, "agent_version": self.agent.version},
        )


def _named(agents: list[AgentRecord]) -> list[AgentTool]:
    names = Counter(a.definition.name for a in agents)
    return [AgentTool(a.definition.name if names[a.definition.name] == 1 else a.id, a) for a in agents]


def agent_tools(principal: Principal, agent_id: str | None) -> list[AgentTool]:
    """The tools ``principal`` may call: one agent (``agent_id``: 404/403 as ``POST /runs``),
    or all of their own and installed agents a token restricted to some agents may use."""
    from shared.agents.repository import list_agents, runnable_agent

    if agent_id is not None:
        return _named([runnable_agent(agent_id, principal)])
    agents: list[AgentRecord] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page, cursor = list_agents(principal.user_id, limit=100, cursor=cursor)
        agents.extend(a for a in page if principal.may_use_agent(a.id))
        if cursor is None:
            break
    return _named(agents)


def find_tool(principal: Principal, agent_id: str | None, name: str) -> AgentTool | None:
    return next((t for t in agent_tools(principal, agent_id) if t.name == name), None)
