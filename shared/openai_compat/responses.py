"""``POST /v1/responses``: a run rendered as a Response object or its event stream.

Output items, in the order the run produced them: the agent's tool calls as ``mcp_call``
items (server-side calls with their output, server label ``agent``), and its text as
``message`` items (text before a tool call is its own message). One ``Assembler`` builds
both the streamed events and the final object, so the two always agree.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shared.openai_compat import continuation, mapping, runner
from shared.openai_compat.mapping import APPROVAL_PREFIX, RESPONSE_PREFIX
from shared.openai_compat.schemas import ConversationRef, ResponseCreate, ResponseFormat

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunPublic, RunUsage
    from shared.runs.service import StreamItem

TOOL_SERVER_LABEL = "agent"
# The stream items that end a run's stream (a paused run ends with run.requires_action).
RUN_ENDS = ("run.completed", "run.failed", "run.requires_action")


def response_id(run_id: str) -> str:
    return RESPONSE_PREFIX + run_id


def tool_error(text: str) -> dict[str, Any]:
    """An ``mcp_call``'s ``error``: a call that failed, was denied or asked the model to retry
    is a tool execution error whose ``content`` is what the model was told, as MCP content
    blocks (the ``content`` of an MCP ``CallToolResult`` with ``isError``)."""
    return {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": text}]}


def _usage(usage: RunUsage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _session_of_previous(principal: Principal, previous: str, agent: AgentRecord) -> str:
    from shared.errors import NotFound
    from shared.runs.repository import get_run

    if not previous.startswith(RESPONSE_PREFIX):
        raise mapping.invalid("previous_response_id", "not a response id of this service")
    try:
        run = get_run(previous[len(RESPONSE_PREFIX) :], principal.user_id)
    except NotFound:
        raise NotFound(
            f"Previous response with id '{previous}' not found.",
            code="previous_response_not_found",
            details={"param": "previous_response_id"},
        ) from None
    if run.session_id is None:
        raise mapping.invalid("previous_response_id", "that response was not stored (store: false)")
    if run.agent_id != agent.id:
        raise mapping.invalid("previous_response_id", "that response is from another model (agent)")
    return run.session_id


def _conversation_session(principal: Principal, ref: str | ConversationRef, agent: AgentRecord) -> str:
    from shared.sessions.repository import get_session

    session_id = ref.id if isinstance(ref, ConversationRef) else ref
    try:
        session = get_session(session_id, principal.user_id)
    except Exception as exc:
        from shared.errors import NotFound

        if isinstance(exc, NotFound):
            raise NotFound(
                f"Conversation with id '{session_id}' not found.",
                code="conversation_not_found",
                details={"param": "conversation"},
            ) from None
        raise
    if session.agent_id != agent.id:
        raise mapping.invalid("conversation", "that conversation belongs to another model (agent)")
    return session_id


def prepare(principal: Principal, body: ResponseCreate, *, stream: bool) -> runner.PreparedRun:
    """Resolve the agent and the conversation, then start the run (or, for approval
    responses, continue the paused one).

    ``store`` (default true) keeps the exchange in a session, so ``previous_response_id`` or
    ``conversation`` continue it; earlier turns sent in ``input`` are stored in a new session
    first. ``store: false`` runs on the turns in ``input`` alone.
    """
    from shared.sessions import repository as sessions

    agent = mapping.resolve_agent(principal, body.model)
    fmt = body.text.format if body.text is not None else None
    mapping.check_format(agent, fmt, "text.format")
    if body.stream_options is not None and not body.stream:
        raise mapping.invalid("stream_options", "stream_options needs stream: true")
    answers = continuation.approval_answers(body)
    if answers is not None:
        return continuation.continue_paused(principal, body, agent, answers, stream=stream)
    if body.previous_response_id is not None and body.conversation is not None:
        raise mapping.invalid("conversation", "give previous_response_id or conversation, not both")
    turns = mapping.response_turns(body.input, body.instructions)
    conversation = mapping.split_conversation(turns, "input")
    session_id: str | None = None
    if body.previous_response_id is not None:
        if not body.store:
            raise mapping.invalid("store", "continuing a stored response stores this one too (store: true)")
        session_id = _session_of_previous(principal, body.previous_response_id, agent)
    elif body.conversation is not None:
        session_id = _conversation_session(principal, body.conversation, agent)
    elif body.store:
        principal.require_agent(agent.id)
        session_id = sessions.create_session(principal.user_id, agent.id, None).id
    if session_id is not None and conversation.history:
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        record = sessions.get_session(session_id, principal.user_id)
        sessions.append_history(
            session_id,
            ModelMessagesTypeAdapter.dump_json(conversation.history),
            len(conversation.history),
            record.revision,
        )
    return runner.start(principal, agent, conversation, stream=stream, session_id=session_id)


class Assembler:
    """Turns a run's stream items into Responses streaming events and output items."""

    def __init__(self, body: ResponseCreate, prepared: runner.PreparedRun) -> None:
        self.body = body
        self.prepared = prepared
        self.record = prepared.started.record
        self.output: list[dict[str, Any]] = []
        self.sequence = 0
        self._message: dict[str, Any] | None = None
        self._calls: dict[str, int] = {}
        self.structured = prepared.agent.definition.output_schema is not None

    # -- the Response object ------------------------------------------------------------------

    def response(self, status: str, run: RunPublic | None = None) -> dict[str, Any]:
        fmt: ResponseFormat | None = self.body.text.format if self.body.text is not None else None
        text_format = fmt.model_dump(by_alias=True, exclude_none=True) if fmt else {"type": "text"}
        incomplete: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        if run is not None and status == "incomplete":
            code = run.error.code if run.error is not None else ""
            reason = "content_filter" if code == "content_filtered" else "max_output_tokens"
            # OpenAI's reasons have no "waiting for approval": a paused response has no reason
            # (its mcp_approval_request items say what it waits for).
            incomplete = {"reason": None if run.status == "requires_action" else reason}
        if run is not None and status == "failed":
            error = {
                "code": "server_error",
                "message": run.error.message if run.error is not None else "the run failed",
            }
        session_id = self.record.session_id
        return {
            "id": response_id(self.record.id),
            "object": "response",
            "created_at": int(self.record.created_at.timestamp()),
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": self.body.instructions,
            "max_output_tokens": None,
            "max_tool_calls": None,
            "model": self.body.model,
            "output": list(self.output),
            "parallel_tool_calls": True,
            "previous_response_id": self.body.previous_response_id,
            "conversation": {"id": session_id} if session_id is not None else None,
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "temperature": None,
            "text": {"format": text_format},
            "tool_choice": "auto",
            "tools": [],
            "top_p": None,
            "truncation": "disabled",
            "usage": _usage(run.usage) if run is not None else None,
            "metadata": {},
            "access_programs": None,
        }

    # -- events -------------------------------------------------------------------------------

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        snapshot = self.response("in_progress")
        return [
            self.event("response.created", response=snapshot),
            self.event("response.in_progress", response=snapshot),
        ]

    def _close_message(self) -> list[dict[str, Any]]:
        message = self._message
        if message is None:
            return []
        self._message = None
        index = self.output.index(message)
        part = message["content"][0]
        message["status"] = "completed"
        common = {"item_id": message["id"], "output_index": index, "content_index": 0}
        return [
            self.event("response.output_text.done", **common, text=part["text"], logprobs=[]),
            self.event("response.content_part.done", **common, part=dict(part)),
            self.event("response.output_item.done", output_index=index, item=json.loads(json.dumps(message))),
        ]

    def _text(self, delta: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._message is None:
            self._message = {
                "id": f"msg_{self.record.id}_{len(self.output)}",
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            self.output.append(self._message)
            index = len(self.output) - 1
            events.append(
                self.event(
                    "response.output_item.added",
                    output_index=index,
                    item=json.loads(json.dumps(self._message)),
                )
            )
            self._message["content"].append(
                {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            )
            events.append(
                self.event(
                    "response.content_part.added",
                    item_id=self._message["id"],
                    output_index=index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                )
            )
        part = self._message["content"][0]
        part["text"] += delta
        events.append(
            self.event(
                "response.output_text.delta",
                item_id=self._message["id"],
                output_index=self.output.index(self._message),
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return events

    def _tool_call(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close_message()
        call_id = str(data["tool_call_id"])
        item = {
            "id": f"mcp_{data['tool_call_id']}",
            "type": "mcp_call",
            "status": "calling",
            "server_label": TOOL_SERVER_LABEL,
            "name": data["name"],
            "arguments": json.dumps(data.get("args") or {}, ensure_ascii=False),
            "output": None,
            "error": None,
            "approval_request_id": APPROVAL_PREFIX + call_id if call_id in self.prepared.decided else None,
        }
        self.output.append(item)
        index = len(self.output) - 1
        self._calls[call_id] = index
        events.append(self.event("response.output_item.added", output_index=index, item=dict(item)))
        events.append(self.event("response.mcp_call.in_progress", item_id=item["id"], output_index=index))
        return events

    def _tool_result(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        call_id = str(data["tool_call_id"])
        if call_id not in self._calls and call_id in self.prepared.decided:
            # A continued run executes the decided calls straight away (their call was in the
            # paused response, as an approval request): announce each as an mcp_call here.
            asked = self.prepared.decided[call_id]
            events += self._tool_call({"tool_call_id": call_id, "name": asked.tool_name, "args": asked.args})
        index = self._calls.get(call_id)
        if index is None:
            return events
        item = self.output[index]
        content = data.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        failed = data.get("outcome", "success") != "success"
        item["status"] = "failed" if failed else "completed"
        if failed:
            item["error"] = tool_error(text)
        else:
            item["output"] = text
        kind = "response.mcp_call.failed" if failed else "response.mcp_call.completed"
        return [
            *events,
            self.event(kind, item_id=item["id"], output_index=index),
            self.event("response.output_item.done", output_index=index, item=dict(item)),
        ]

    def _approval_requests(self, run: RunPublic) -> list[dict[str, Any]]:
        """A paused run's waiting tool calls as ``mcp_approval_request`` items (decide them
        with ``POST /runs/{run_id}/approvals``)."""
        events: list[dict[str, Any]] = []
        pending = run.required_action.items if run.required_action is not None else []
        decided = {d.tool_call_id for d in run.approvals}
        for approval in pending:
            if approval.tool_call_id in decided:
                continue  # answered already; the run waits for the others
            item = {
                "id": APPROVAL_PREFIX + approval.tool_call_id,
                "type": "mcp_approval_request",
                "server_label": TOOL_SERVER_LABEL,
                "name": approval.tool_name,
                "arguments": json.dumps(approval.args or {}, ensure_ascii=False),
            }
            self.output.append(item)
            index = len(self.output) - 1
            events.append(self.event("response.output_item.added", output_index=index, item=dict(item)))
            events.append(self.event("response.output_item.done", output_index=index, item=dict(item)))
        return events

    def finish(self, run: RunPublic) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if run.status == "requires_action":
            events += self._close_message()
            events += self._approval_requests(run)
        if run.status == "succeeded" and (
            self.structured or not any(i["type"] == "message" for i in self.output)
        ):
            # Structured output arrives whole (the output tool's arguments), never as deltas.
            events += self._close_message()
            events += self._text(mapping.output_text(run.output))
        events += self._close_message()
        status = _status(run)
        final = self.response(status, run)
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            status, "response.failed"
        )
        events.append(self.event(kind, response=final))
        return events

    def feed(self, item: StreamItem) -> list[dict[str, Any]]:
        if item.type == "text.delta" and not self.structured:
            return self._text(str(item.data["delta"]))
        if item.type == "tool.call":
            return self._tool_call(item.data)
        if item.type == "tool.result":
            return self._tool_result(item.data)
        return []


def _status(run: RunPublic) -> str:
    if run.status == "requires_action":
        return "incomplete"
    if run.status == "succeeded":
        return "incomplete" if run.finish_reason == "length" else "completed"
    code = run.error.code if run.error is not None else ""
    if code in ("content_filtered", "output_limit_reached"):
        return "incomplete"
    return "failed"


async def assemble(assembler: Assembler, items: AsyncIterator[StreamItem]) -> AsyncIterator[dict[str, Any]]:
    from shared.runs.schemas import RunPublic

    for event in assembler.start():
        yield event
    try:
        async for item in items:
            if item.type in RUN_ENDS:
                for event in assembler.finish(RunPublic.model_validate(item.data["run"])):
                    yield event
                return
            for event in assembler.feed(item):
                yield event
    finally:
        aclose: Any = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


async def event_frames(assembler: Assembler, items: AsyncIterator[StreamItem]) -> AsyncIterator[str]:
    async for event in assemble(assembler, items):
        data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        yield f"event: {event['type']}\ndata: {data}\n\n"


def complete(assembler: Assembler) -> dict[str, Any]:
    """Run to the end (not streamed) and return the Response object; a failed run is an error."""
    from shared import aio

    async def drain() -> dict[str, Any]:
        final: dict[str, Any] = {}
        async for event in assemble(assembler, runner.items(assembler.prepared, stream=False)):
            if event["type"] in ("response.completed", "response.incomplete", "response.failed"):
                final = event["response"]
        return final

    final = aio.run(drain())
    if final.get("status") == "failed":
        from shared.runs.repository import get_run

        raise runner.RunFailed(get_run(assembler.record.id, assembler.record.owner_id).public())
    return final
