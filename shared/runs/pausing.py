"""Pausing a run for human approval of tool calls, and turning decisions into tool results.

When the model calls a tool that requires approval, pydantic-ai ends the run with
``DeferredToolRequests``. ``pause`` then, in one transaction (``lifecycle`` ``pause``): stores
the rest of the conversation with the pending requests (a checkpoint segment), sets the run
``requires_action`` with ``required_action.items`` (one per call: ``tool_call_id``,
``tool_name``, ``args``, ``args_sha256``, ``requested_at``, ``expires_at``, ``agent_id``) and
the usage so far, and ends its lease; the session stays held by the run, marked as waiting.
No instance waits: the decision (``shared.runs.approvals``) resumes the run from the stored
conversation.

``args_sha256`` is the SHA-256 of the arguments' canonical JSON (keys sorted, no spaces,
UTF-8): the decider must send back the hash of what it was shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.runs import checkpoints, lifecycle
from shared.runs.lifecycle import Event, Move
from shared.runs.schemas import ApprovalItem, RequiredAction, RunPublic, RunRecord
from shared.settings import get_settings

if TYPE_CHECKING:
    from pydantic_ai import DeferredToolRequests, DeferredToolResults

    from shared.agents.definition import AgentDefinition
    from shared.execution.executor import ExecutionResult

DENIED_MESSAGE = "A human denied this tool call."


def args_sha256(args: Any) -> str:
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _args(call: Any) -> Any:
    try:
        return call.args_as_dict()
    except Exception:
        return call.args


def approval_items(
    pending: DeferredToolRequests, record: RunRecord, definition: AgentDefinition, now: datetime
) -> list[ApprovalItem]:
    expires = now + timedelta(seconds=get_settings().run_approval_ttl_seconds)
    items: list[ApprovalItem] = []
    for call in pending.approvals:
        args = _args(call)
        items.append(
            ApprovalItem(
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                args=args,
                args_sha256=args_sha256(args),
                requested_at=now,
                expires_at=expires,
                agent_id=record.agent_id,
                agent_name=definition.name,
            )
        )
    return items


async def pause(
    record: RunRecord,
    result: ExecutionResult,
    segments: int,
    definition: AgentDefinition,
    stored_messages: Callable[[list[Any]], list[Any]] | None = None,
) -> RunPublic | None:
    """Store the paused run (see the module docstring); None if it was no longer ours.
    ``stored_messages`` maps the unsaved messages to what the segment stores (the first
    segment also carries the history the client sent)."""
    now = datetime.now(UTC)
    pending: DeferredToolRequests = result.pending
    items = approval_items(pending, record, definition, now)
    messages = list(result.unsaved_messages)
    if stored_messages is not None:
        messages = stored_messages(messages)
    step = checkpoints.segment(record.id, segments, messages, result.native_usage, pending)
    fields = {
        "required_action": RequiredAction(items=items).model_dump(mode="python"),
        "paused_at": now,
        "usage": result.usage.model_dump(),
        "cost_usd": result.cost_usd,
        "finish_reason": result.finish_reason,
        "cancel_requested": False,
    }
    token = record.lease_token

    def choose(stored: RunRecord, now: datetime) -> Move | None:
        if not lifecycle.held_by(token)(stored, now):
            return None
        return Move(Event.PAUSE, fields, also=step.write)

    outcome = await asyncio.to_thread(lifecycle.transition, record.id, choose)
    if not outcome.applied or outcome.record is None:
        return None
    if record.session_id is not None:
        from shared.sessions.repository import hold_for_approval

        await asyncio.to_thread(hold_for_approval, record.session_id, record.id, items[0].expires_at)
    # Published like a finished run (status requires_action): the run.requires_action webhook.
    from shared.runs.queue import publish_result

    await asyncio.to_thread(publish_result, outcome.record.public())
    return outcome.record.public()


def deferred_results(record: RunRecord, pending: DeferredToolRequests) -> DeferredToolResults:
    """The recorded decisions as pydantic-ai results for the calls the run paused on.

    A denial reaches the model as the tool's result, with the decider's reason.
    """
    from pydantic_ai import DeferredToolResults, ToolApproved, ToolDenied

    decided = {d.tool_call_id: d for d in record.approvals}
    approvals: dict[str, Any] = {}
    for call in pending.approvals:
        decision = decided.get(call.tool_call_id)
        if decision is not None and decision.approve:
            approvals[call.tool_call_id] = ToolApproved()
        else:
            reason = decision.reason if decision is not None else None
            approvals[call.tool_call_id] = ToolDenied(
                f"{DENIED_MESSAGE} Reason: {reason}" if reason else DENIED_MESSAGE
            )
    return DeferredToolResults(approvals=approvals)
