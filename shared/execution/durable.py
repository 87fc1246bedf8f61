"""Durable steps of an execution: resuming a stored conversation and checkpointing new steps.

A run's own messages (after any session history) are checkpointed through ``spec.save_step``
after every model response that calls tools and every batch of tool results — never for a
response that only answers, so a run without tool calls stores nothing extra. A resumed run
(``spec.resume``: after a human decision, or a takeover after a crash) starts from the stored
messages with no new prompt: pydantic-ai then executes the pending tool calls of a trailing
response, or sends a trailing request of tool results, so neither a checkpointed model call
nor a checkpointed tool call happens twice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_ai import DeferredToolResults
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.usage import RunUsage

    from shared.execution.executor import ExecutionSpec

OUTPUT_TOOL_NAME = "final_result"


@dataclass
class Resume:
    """A stored conversation to continue: the run's messages so far, its usage, and the
    decisions on the calls it paused for (if it paused)."""

    messages: list[ModelMessage] = field(default_factory=list["ModelMessage"])
    usage: RunUsage | None = None
    deferred: DeferredToolResults | None = None


def _calls_tools(response: Any) -> bool:
    from pydantic_ai.messages import ToolCallPart

    return any(isinstance(p, ToolCallPart) and p.tool_name != OUTPUT_TOOL_NAME for p in response.parts)


def _has_tool_results(request: Any) -> bool:
    from pydantic_ai.messages import ToolReturnPart

    # Tool retries are ToolReturnParts too (outcome "retried"); output retries are not counted.
    return any(isinstance(p, ToolReturnPart) and p.tool_name != OUTPUT_TOOL_NAME for p in request.parts)


class StepRecorder:
    """Tracks which of the run's messages are stored and stores each new step."""

    def __init__(self, spec: ExecutionSpec) -> None:
        self.spec = spec
        self._resume = spec.resume if spec.resume is not None and spec.resume.messages else None
        self._base = len(spec.history or [])
        self.stored = len(self._resume.messages) if self._resume is not None else 0

    @property
    def resuming(self) -> bool:
        return self._resume is not None

    def history(self) -> list[ModelMessage]:
        own = self._resume.messages if self._resume is not None else []
        return [*(self.spec.history or []), *own]

    def deferred_results(self) -> DeferredToolResults | None:
        return self._resume.deferred if self._resume is not None else None

    def usage(self) -> RunUsage | None:
        # A copy: pydantic-ai adds to it in place.
        if self._resume is None or self._resume.usage is None:
            return None
        return copy.deepcopy(self._resume.usage)

    def own(self, run: Any) -> list[ModelMessage]:
        return list(run.all_messages())[self._base :]

    async def after_step(self, run: Any, node: Any) -> None:
        """Checkpoint what the step before ``node`` added, if it involved tools."""
        from pydantic_ai import Agent

        if self.spec.save_step is None:
            return
        own = self.own(run)
        if Agent.is_call_tools_node(node):
            if not _calls_tools(node.model_response):
                return
        elif Agent.is_model_request_node(node):
            if not _has_tool_results(node.request):
                return
            if not own or own[-1] is not node.request:
                own = [*own, node.request]  # sent (and added to the messages) when the node runs
        else:
            return
        new = own[self.stored :]
        if not new:
            return  # resumed at this very step: already stored
        await self.spec.save_step(new, run.usage)
        self.stored = len(own)

    def unsaved(self, run: Any) -> list[ModelMessage]:
        return self.own(run)[self.stored :]

    @staticmethod
    def is_pause(output: Any) -> bool:
        from pydantic_ai import DeferredToolRequests

        return isinstance(output, DeferredToolRequests)

    def run_messages_json(self, run: Any) -> bytes:
        """Every message of this run (also those before a pause), for the session history."""
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        return ModelMessagesTypeAdapter.dump_json(self.own(run))
