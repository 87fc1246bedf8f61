"""The MCP toolsets of one run: pydantic-ai ``MCPToolset``s over each server the agent lists,
connected with the **runner's** credential (``client.RunnerAuth``: read when the run first
talks to the server), narrowed and guarded.

Per server, from the inside out:

1. ``MCPToolset`` on a FastMCP client whose HTTP goes through the outbound guard;
2. ``ReviewedToolset``: only tools the owner accepted (a tool the server added since is
   recorded as pending and left out: tool drift), within the registration's ``allowed_tools``
   and the agent's; failures talking to the server become clear run errors;
3. ``.prefixed(tool_prefix)`` when the agent asks for one;
4. ``.approval_required(...)``: calls wait for a human decision unless ``requires_approval``
   is false (or a list leaving the tool out) — the run pauses ``requires_action`` as for
   registry tools (``shared.runs.pausing``).

MCP tool calls are ordinary tool calls to pydantic-ai: they count in ``usage.tool_calls`` and
appear as ``tool.call`` / ``tool.result`` run events. This module (and the MCP client) is only
imported when an agent that lists MCP servers runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from shared.agents.definition import AgentDefinition, McpServerRef
from shared.errors import NotFound
from shared.mcp_servers import credentials, repository
from shared.mcp_servers.client import RunnerAuth, as_service_error, client_for
from shared.mcp_servers.schemas import McpServerRecord

_log = logging.getLogger(__name__)

# Exceptions that are pydantic-ai control flow, never a server failure.
_CONTROL = (ModelRetry, ToolFailed, ApprovalRequired, CallDeferred)


@dataclass
class ReviewedToolset(WrapperToolset[Any]):
    """The server's tools the agent may use (see the module docstring)."""

    server: McpServerRecord = field(default=None)  # type: ignore[assignment]
    ref: McpServerRef = field(default=None)  # type: ignore[assignment]
    auth: RunnerAuth | None = None

    async def __aenter__(self) -> ReviewedToolset:
        try:
            await self.wrapped.__aenter__()
        except Exception as exc:
            raise as_service_error(self.server, exc, self.auth) from None
        return self

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        try:
            tools = await self.wrapped.get_tools(ctx)
        except _CONTROL:
            raise
        except Exception as exc:
            raise as_service_error(self.server, exc, self.auth) from None
        usable = await self._usable(tools)
        return {name: tool for name, tool in tools.items() if name in usable}

    async def _usable(self, tools: dict[str, ToolsetTool[Any]]) -> set[str]:
        from shared.mcp_servers.schemas import McpToolPublic
        from shared.mcp_servers.service import reviewed, store_listing

        listed = [
            McpToolPublic(
                name=name,
                description=t.tool_def.description or "",
                input_schema=t.tool_def.parameters_json_schema,
            )
            for name, t in tools.items()
        ]
        marked, changes = reviewed(self.server, listed)
        if changes:
            # First sight of the server's tools (the baseline) or new ones (now pending).
            await asyncio.to_thread(store_listing, self.server.id, marked, datetime.now(UTC), changes)
            self.server = self.server.model_copy(update=dict(changes))
            if "pending_tools" in changes:
                _log.info(
                    "MCP server lists tools awaiting review; not offered",
                    extra={"server_id": self.server.id, "pending": changes["pending_tools"]},
                )
        agent_allowed = set(self.ref.allowed_tools) if self.ref.allowed_tools is not None else None
        return {
            t.name
            for t in marked
            if t.status == "enabled" and t.allowed and (agent_allowed is None or t.name in agent_allowed)
        }

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        try:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except _CONTROL:
            raise
        except Exception as exc:
            raise as_service_error(self.server, exc, self.auth) from None


def _needs_approval(ref: McpServerRef) -> Any:
    prefix = f"{ref.tool_prefix}_" if ref.tool_prefix else ""

    def needs(ctx: RunContext[Any], tool_def: ToolDefinition, args: dict[str, Any]) -> bool:
        if isinstance(ref.requires_approval, bool):
            return ref.requires_approval
        return tool_def.name.removeprefix(prefix) in ref.requires_approval

    return needs


def load_for_run(definition: AgentDefinition, runner_id: str) -> dict[str, McpServerRecord]:
    """The registrations the agent names, checked: each exists, is the runner's, and the
    runner has a credential for it when it needs one (else the run fails with a clear code)."""
    servers = repository.load_servers([ref.server_id for ref in definition.mcp_servers])
    for ref in definition.mcp_servers:
        server = servers.get(ref.server_id)
        if server is None or server.owner_id != runner_id:
            raise NotFound(
                f"the agent's MCP server '{ref.server_id}' no longer exists",
                code="mcp_server_not_found",
                details={"server_id": ref.server_id},
            )
        if server.auth.type != "none" and not repository.has_credential(server.id, runner_id):
            raise credentials.not_connected(server)
    return servers


def build_toolsets(
    definition: AgentDefinition, runner_id: str, *, approvals: bool = True
) -> list[AbstractToolset[Any]]:
    """One guarded, reviewed, approval-aware toolset per MCP server of ``definition``
    (``approvals`` False: a replay, whose recorded decisions are played back)."""
    servers = load_for_run(definition, runner_id)
    toolsets: list[AbstractToolset[Any]] = []
    for ref in definition.mcp_servers:
        server = servers[ref.server_id]
        client = client_for(server, runner_id)
        auth = client.transport.auth
        base = MCPToolset(client, id=f"mcp-{server.id}", cache_tools=True)
        toolset: AbstractToolset[Any] = ReviewedToolset(
            wrapped=base, server=server, ref=ref, auth=auth if isinstance(auth, RunnerAuth) else None
        )
        if ref.tool_prefix:
            toolset = toolset.prefixed(ref.tool_prefix)
        if approvals and ref.requires_approval is not False:
            toolset = toolset.approval_required(_needs_approval(ref))
        toolsets.append(toolset)
    return toolsets
