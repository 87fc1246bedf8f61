"""``POST /runs/{id}/approvals``: decide the tool calls a paused run waits for, and resume it.

Each decision names a pending item (``tool_call_id``) and carries the ``args_sha256`` the
decider was shown; the whole request is checked in one transaction (``lifecycle`` ``decide`` /
``resume`` / ``resume_queued``) and decides nothing when any part fails: unknown or repeated
item → 422; hash mismatch (``args_mismatch``), item already decided (``already_decided``),
approval expired (``approval_expired``), run not waiting (``run_not_waiting``) or finished
(``run_finished``) → 409; someone else's run → 404.

Retries: with an ``Idempotency-Key``, a request whose decisions are already recorded under the
same key is answered with the run as it is now and changes nothing (so a client retrying after a
lost answer never resumes — and runs an approved tool — twice); without one it is 409.

When the last open item is decided the run resumes at its pinned agent version, in the mode
asked (default: the run's own): ``sync`` executes it in this request and answers with the
finished (or paused again) run; ``stream`` streams the continuation; ``async`` queues it for
the worker. All three go through ``shared.runs.runner.execute_run(resume=True)``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Conflict, ServiceUnavailable, ValidationFailed
from shared.runs import lifecycle, repository
from shared.runs.leases import new_lease
from shared.runs.lifecycle import Event, Move
from shared.runs.schemas import ApprovalDecisionRecord, RunMode, RunRecord

if TYPE_CHECKING:
    from shared.auth.principal import Principal

_log = logging.getLogger(__name__)


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: str = Field(min_length=1, max_length=200)
    approve: bool
    args_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The item's args_sha256 as shown")
    reason: str | None = Field(
        default=None, max_length=2000, description="Why; a denial's reason is passed to the model"
    )


class ApprovalsCreate(BaseModel):
    """``POST /runs/{id}/approvals``."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[ApprovalDecision] = Field(min_length=1, max_length=100)
    mode: RunMode | None = Field(default=None, description="How to resume (default: the run's own mode)")


@dataclass
class Decided:
    record: RunRecord
    mode: RunMode
    resumed: bool = False
    replay: bool = False
    new: list[ApprovalDecisionRecord] = field(default_factory=list[ApprovalDecisionRecord])


def _key_hash(key: str | None) -> str | None:
    return hashlib.sha256(key.encode()).hexdigest()[:32] if key else None


def _conflict(message: str, code: str, run_id: str, **details: Any) -> Conflict:
    return Conflict(message, code=code, details={"run_id": run_id, **details})


def _check_body(body: ApprovalsCreate) -> None:
    seen: set[str] = set()
    for index, decision in enumerate(body.decisions):
        if decision.tool_call_id in seen:
            raise ValidationFailed.field(f"decisions.{index}.tool_call_id", "decided twice in this request")
        seen.add(decision.tool_call_id)


def decide(principal: Principal, run_id: str, body: ApprovalsCreate, idempotency_key: str | None) -> Decided:
    """Record the decisions (see the module docstring); resumes the run if none is left open."""
    _check_body(body)
    key = _key_hash(idempotency_key)
    result: dict[str, Any] = {}

    def replayed(record: RunRecord) -> bool:
        recorded = {d.tool_call_id: d for d in record.approvals}
        return key is not None and all(
            (r := recorded.get(d.tool_call_id)) is not None
            and r.approve == d.approve
            and record.approval_keys.get(d.tool_call_id) == key
            for d in body.decisions
        )

    def choose(record: RunRecord, now: datetime) -> Move | None:
        if record.owner_id != principal.user_id:
            raise repository.not_found(run_id)
        principal.require_agent(record.agent_id)
        result["mode"] = body.mode or record.mode
        if replayed(record):
            result["replay"] = True
            return None
        if record.status != "requires_action" or record.required_action is None:
            if record.finished:
                raise _conflict(f"the run has already {record.status}", "run_finished", run_id)
            raise _conflict("the run is not waiting for a decision", "run_not_waiting", run_id)
        items = {item.tool_call_id: item for item in record.required_action.items}
        decided = {d.tool_call_id for d in record.approvals}
        new: list[dict[str, Any]] = []
        for index, decision in enumerate(body.decisions):
            item = items.get(decision.tool_call_id)
            if item is None:
                raise ValidationFailed.field(
                    f"decisions.{index}.tool_call_id", "the run does not wait for this tool call"
                )
            if decision.tool_call_id in decided:
                raise _conflict(
                    "this tool call was already decided",
                    "already_decided",
                    run_id,
                    tool_call_id=item.tool_call_id,
                )
            if decision.args_sha256 != item.args_sha256:
                raise _conflict(
                    "args_sha256 does not match the pending call's arguments; nothing was decided",
                    "args_mismatch",
                    run_id,
                    tool_call_id=item.tool_call_id,
                )
            if item.expires_at <= now:
                raise _conflict("the approval request has expired", "approval_expired", run_id)
            new.append(
                {
                    "tool_call_id": item.tool_call_id,
                    "tool_name": item.tool_name,
                    "approve": decision.approve,
                    "args_sha256": item.args_sha256,
                    "reason": decision.reason,
                    "decided_by": principal.user_id,
                    "decided_at": now,
                }
            )
        approvals = [d.model_dump(mode="python") for d in record.approvals] + new
        keys = dict(record.approval_keys)
        if key is not None:
            keys.update({d["tool_call_id"]: key for d in new})
        result["new"] = new
        recorded: dict[str, Any] = {"approvals": approvals, "approval_keys": keys}
        if decided | {d["tool_call_id"] for d in new} != set(items):
            return Move(Event.DECIDE, recorded)
        resumed: dict[str, Any] = {**recorded, "required_action": None, "cancel_requested": False}
        if result["mode"] == "async":
            # A fresh set of delivery attempts for the continuation.
            return Move(Event.RESUME_QUEUED, {**resumed, "publish_pending": True, "attempts": 0})
        return Move(Event.RESUME, {**resumed, **new_lease()})

    outcome = lifecycle.transition(run_id, choose)
    if outcome.record is None:
        raise repository.not_found(run_id)
    return Decided(
        outcome.record,
        result.get("mode", outcome.record.mode),
        resumed=outcome.moved in (Event.RESUME, Event.RESUME_QUEUED),
        replay=bool(result.get("replay")),
        new=[ApprovalDecisionRecord.model_validate(d) for d in result.get("new", [])],
    )


async def record_decisions(decided: Decided) -> None:
    """The ``approval.decided`` events (one per decision), after the run's last event."""
    import asyncio

    from shared.runs.events import RunEventWriter, last_event_seq

    if not decided.new:
        return
    start = await asyncio.to_thread(last_event_seq, decided.record.id)
    writer = RunEventWriter(decided.record.id, start_after=start)
    for decision in decided.new:
        writer.add("approval.decided", decision.model_dump(mode="json"))
    await writer.close()


def queue_resumed(record: RunRecord) -> RunRecord:
    """``async``: hand the resumed run to the worker (the sweep republishes if Pub/Sub refuses)."""
    from shared.runs.async_runs import mark_published
    from shared.runs.queue import RunMessage, publish_run

    try:
        publish_run(RunMessage(record.id, ordering_key=record.session_id or ""))
    except ServiceUnavailable:
        _log.warning("a resumed run waits for the sweep to publish it", extra={"run_id": record.id})
        return record
    return mark_published(record)


def hold_session(record: RunRecord) -> int | None:
    """``sync``/``stream``: the resumed run takes its session back (it kept it while paused)."""
    if record.session_id is None:
        return None
    from shared.sessions.repository import acquire_lease
    from shared.settings import get_settings

    session = acquire_lease(
        record.session_id, record.owner_id, record.agent_id, record.id, get_settings().session_lease_seconds
    )
    return session.revision
