"""Continuing a paused response: ``mcp_approval_response`` input items answer the
``mcp_approval_request`` items of the response named by ``previous_response_id`` (OpenAI's
Responses convention for MCP tool approvals) and continue its run.

The answers are recorded exactly like ``POST /runs/{id}/approvals`` (``shared.runs.approvals``:
one transaction, all or nothing; the arguments hashed are those of the pending call the
request id names). When none is left open the run continues in this request (streamed or
not); the response keeps the run's id (``resp_<run id>``), and its output holds what the run
did after the decision. Otherwise the response is still ``incomplete`` with the requests
left open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.openai_compat import mapping, runner
from shared.openai_compat.mapping import APPROVAL_PREFIX, RESPONSE_PREFIX
from shared.openai_compat.schemas import ResponseCreate

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

_APPROVAL_FIELDS = {"type", "approval_request_id", "approve", "id", "reason"}


def approval_answers(body: ResponseCreate) -> list[runner.Decision] | None:
    """The ``mcp_approval_response`` input items as decisions (None: the input has none).

    They answer the ``mcp_approval_request`` items of the paused response named by
    ``previous_response_id`` and continue its run; they cannot be mixed with new input.
    """
    if isinstance(body.input, str) or not any(
        item.get("type") == "mcp_approval_response" for item in body.input
    ):
        return None
    decisions: list[runner.Decision] = []
    seen: set[str] = set()
    for index, item in enumerate(body.input):
        param = f"input[{index}]"
        if item.get("type") != "mcp_approval_response":
            raise mapping.unsupported(
                param, "approval responses continue a paused run: they cannot be sent with other input items"
            )
        extra = sorted(set(item) - _APPROVAL_FIELDS)
        if extra:
            raise mapping.unsupported(f"{param}.{extra[0]}", f"item field '{extra[0]}' is not supported")
        request_id = item.get("approval_request_id")
        if not isinstance(request_id, str) or not request_id.startswith(APPROVAL_PREFIX):
            raise mapping.invalid(f"{param}.approval_request_id", "not an approval request id of ours")
        if request_id in seen:
            raise mapping.invalid(f"{param}.approval_request_id", "answered twice in this request")
        seen.add(request_id)
        approve = item.get("approve")
        if not isinstance(approve, bool):
            raise mapping.invalid(f"{param}.approve", "must be true or false")
        reason = item.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
            raise mapping.invalid(f"{param}.reason", "must be a string of at most 2000 characters")
        decisions.append(runner.Decision(request_id[len(APPROVAL_PREFIX) :], approve, reason))
    if body.previous_response_id is None:
        raise mapping.invalid(
            "previous_response_id", "approval responses need the id of the response that asked for them"
        )
    for param, value in (("instructions", body.instructions), ("conversation", body.conversation)):
        if value is not None:
            raise mapping.invalid(param, "a paused response is continued as it was: leave this out")
    return decisions


def continue_paused(
    principal: Principal,
    body: ResponseCreate,
    agent: AgentRecord,
    answers: list[runner.Decision],
    *,
    stream: bool,
) -> runner.PreparedRun:
    """Decide the paused run's approval requests and continue it (see ``approval_answers``)."""
    from shared.errors import NotFound
    from shared.runs.repository import get_run_for

    previous = body.previous_response_id or ""
    if not previous.startswith(RESPONSE_PREFIX):
        raise mapping.invalid("previous_response_id", "not a response id of this service")
    try:
        run = get_run_for(principal, previous[len(RESPONSE_PREFIX) :])
    except NotFound:
        raise NotFound(
            f"Previous response with id '{previous}' not found.",
            code="previous_response_not_found",
            details={"param": "previous_response_id"},
        ) from None
    if run.agent_id != agent.id:
        raise mapping.invalid("previous_response_id", "that response is from another model (agent)")
    if run.status == "requires_action" and run.required_action is not None:
        pending = {item.tool_call_id for item in run.required_action.items}
        for index, answer in enumerate(answers):
            if answer.tool_call_id not in pending:
                raise mapping.invalid(
                    f"input[{index}].approval_request_id", "the previous response has no such request"
                )
    # Otherwise the run is not waiting: ``decide`` answers 409 (run_not_waiting / run_finished).
    return runner.resume_paused(principal, agent, run, answers, stream=stream)
