"""A2A JSON-RPC (protocol 0.3): ``message/send``, ``message/stream``, ``tasks/get`` and
``tasks/cancel`` for one agent. A task is a run (``source: "a2a"``), a context is a session:
both live in Firestore, so any instance answers any request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ValidationError

from shared.a2a_server import tasks
from shared.errors import Conflict, NotFound, ServiceError

if TYPE_CHECKING:
    from a2a.compat.v0_3.types import Message, MessageSendParams

    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunPublic
    from shared.runs.service import StartedRun

# JSON-RPC and A2A error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
PUSH_NOT_SUPPORTED = -32003
UNSUPPORTED_OPERATION = -32004
CONTENT_TYPE_NOT_SUPPORTED = -32005

METHODS = ("message/send", "message/stream", "tasks/get", "tasks/cancel")
UNSUPPORTED = (
    "tasks/resubscribe",
    "tasks/pushNotificationConfig/set",
    "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list",
    "tasks/pushNotificationConfig/delete",
    "agent/getAuthenticatedExtendedCard",
)
_FINAL = ("run.completed", "run.failed", "run.requires_action")


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def error_body(rpc_id: Any, error: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": rpc_id, "error": body}


def result_body(rpc_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rpc_id, "result": result}


def _from_service_error(exc: ServiceError) -> RpcError:
    data: dict[str, Any] = {"code": exc.error_code, "status": exc.status}
    if exc.details:
        data["details"] = exc.details
    if exc.status in (429, 503) or exc.status >= 500:
        return RpcError(INTERNAL_ERROR, exc.message, data)
    return RpcError(INVALID_PARAMS, exc.message, data)


def parse_envelope(message: Any) -> tuple[Any, str, Any]:
    """(id, method, params) of a JSON-RPC request, or RpcError (with the id where known)."""
    if not isinstance(message, dict):
        raise RpcError(INVALID_REQUEST, "the body must be one JSON-RPC 2.0 request object")
    envelope = cast(dict[str, Any], message)
    rpc_id: Any = envelope.get("id")
    if envelope.get("jsonrpc") != "2.0" or not isinstance(envelope.get("method"), str):
        raise RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 request (jsonrpc, method)")
    if rpc_id is not None and (isinstance(rpc_id, bool) or not isinstance(rpc_id, str | int)):
        raise RpcError(INVALID_REQUEST, "id must be a string or an integer")
    return rpc_id, str(envelope["method"]), envelope.get("params")


def _params(model: type[BaseModel], params: Any) -> Any:
    try:
        return model.model_validate(params if params is not None else {})
    except ValidationError as exc:
        fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5]]
        raise RpcError(INVALID_PARAMS, "invalid params: " + ", ".join(fields)) from None


def _prompt(message: Message) -> str:
    from a2a.compat.v0_3.types import DataPart, TextPart

    texts: list[str] = []
    for part in message.parts:
        inner = part.root
        if isinstance(inner, TextPart):
            texts.append(inner.text)
        elif isinstance(inner, DataPart):
            texts.append(json.dumps(inner.data, ensure_ascii=False))
        else:
            raise RpcError(
                CONTENT_TYPE_NOT_SUPPORTED, "file parts are not supported: send text or data parts"
            )
    prompt = "\n".join(texts)
    if not prompt.strip():
        raise RpcError(INVALID_PARAMS, "the message has no text")
    return prompt


def _start(principal: Principal, agent: AgentRecord, params: MessageSendParams, mode: str) -> StartedRun:
    from shared.runs.schemas import RunCreate
    from shared.runs.service import start_run
    from shared.sessions import service as sessions
    from shared.sessions.schemas import SessionCreate

    message = params.message
    if message.task_id:
        raise RpcError(
            UNSUPPORTED_OPERATION,
            "a task cannot be continued: send the next message without taskId, in the same contextId",
        )
    prompt = _prompt(message)
    try:
        context = message.context_id or sessions.create(principal, SessionCreate(agent_id=agent.id)).id
        body = RunCreate(agent_id=agent.id, input=prompt, session_id=context, mode=mode)  # type: ignore[arg-type]
        return start_run(principal, body, source="a2a")
    except ValidationError:
        raise RpcError(INVALID_PARAMS, "invalid message (too long, or an invalid contextId)") from None
    except ServiceError as exc:
        raise _from_service_error(exc) from None


def send(principal: Principal, agent: AgentRecord, params: Any) -> dict[str, Any]:
    """``message/send``: blocking (default) → the finished task; ``blocking: false`` → the task
    as queued (an async run; poll ``tasks/get``)."""
    from a2a.compat.v0_3.types import MessageSendParams

    from shared.runs.service import run_sync

    parsed: MessageSendParams = _params(MessageSendParams, params)
    config = parsed.configuration
    blocking = config is None or config.blocking is not False
    history = config.history_length if config is not None else None
    started = _start(principal, agent, parsed, "sync" if blocking else "async")
    run = run_sync(started) if blocking else started.record.public()
    return tasks.dump(tasks.task_of(run, history))


def _run_of(principal: Principal, agent: AgentRecord, task_id: str) -> RunPublic:
    from shared.runs.service import get

    try:
        run = get(principal, task_id)
    except NotFound:
        raise RpcError(TASK_NOT_FOUND, "task not found") from None
    if run.agent_id != agent.id:
        raise RpcError(TASK_NOT_FOUND, "task not found")
    return run


def get_task(principal: Principal, agent: AgentRecord, params: Any) -> dict[str, Any]:
    from a2a.compat.v0_3.types import TaskQueryParams

    parsed: TaskQueryParams = _params(TaskQueryParams, params)
    return tasks.dump(tasks.task_of(_run_of(principal, agent, parsed.id), parsed.history_length))


def cancel_task(principal: Principal, agent: AgentRecord, params: Any) -> dict[str, Any]:
    """``tasks/cancel``: a queued run ends ``canceled`` at once; a running one stops at its next
    step (the task shows ``working`` until then); a finished one → TaskNotCancelableError."""
    from a2a.compat.v0_3.types import TaskIdParams

    from shared.runs.cancel import cancel_run

    parsed: TaskIdParams = _params(TaskIdParams, params)
    run = _run_of(principal, agent, parsed.id)
    if run.status in ("succeeded", "failed", "cancelled"):
        raise RpcError(TASK_NOT_CANCELABLE, f"the task is already {tasks.STATES[run.status]}")
    try:
        cancelled = cancel_run(principal, run.id)
    except Conflict:
        raise RpcError(TASK_NOT_CANCELABLE, "the task can no longer be canceled") from None
    return tasks.dump(tasks.task_of(cancelled))


def call(principal: Principal, agent: AgentRecord, method: str, params: Any) -> dict[str, Any]:
    """The result of a non-streaming method (RpcError otherwise)."""
    if method == "message/send":
        return send(principal, agent, params)
    if method == "tasks/get":
        return get_task(principal, agent, params)
    if method == "tasks/cancel":
        return cancel_task(principal, agent, params)
    if method in UNSUPPORTED:
        code = PUSH_NOT_SUPPORTED if "pushNotification" in method else UNSUPPORTED_OPERATION
        raise RpcError(code, f"{method} is not supported by this agent")
    raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")


def start_stream(principal: Principal, agent: AgentRecord, params: Any) -> StartedRun:
    from a2a.compat.v0_3.types import MessageSendParams

    return _start(principal, agent, _params(MessageSendParams, params), "stream")


def stream_frames(rpc_id: Any, started: StartedRun) -> Iterator[str]:
    """``message/stream``: SSE frames, each a JSON-RPC response carrying the task, its output
    as artifact chunks while the model writes, and a final status update."""
    from shared.runs.service import execute_run
    from shared.runs.streaming import closing, drive

    items = execute_run(
        started.record,
        definition=started.definition,
        session_revision=started.session_revision,
        stream=True,
    )
    return closing(drive(_events(rpc_id, started.record.public(), items)))


async def _events(rpc_id: Any, run: RunPublic, items: AsyncIterator[Any]) -> AsyncIterator[str]:
    from a2a.compat.v0_3.types import (
        Artifact,
        Part,
        TaskArtifactUpdateEvent,
        TaskStatusUpdateEvent,
        TextPart,
    )

    from shared.runs.schemas import RunPublic
    from shared.web.responses import format_sse

    def frame(event: Any) -> str:
        return format_sse(None, result_body(rpc_id, tasks.dump(event)))

    def chunk(parts: list[Part], *, append: bool, last: bool) -> str:
        artifact = Artifact(artifact_id=tasks.OUTPUT_ARTIFACT, name="output", parts=parts)
        return frame(
            TaskArtifactUpdateEvent(
                task_id=run.id,
                context_id=tasks.context_of(run),
                artifact=artifact,
                append=append,
                last_chunk=last,
            )
        )

    yield frame(tasks.task_of(run))
    streamed = False
    final: RunPublic | None = None
    try:
        async for item in items:
            if item.type == "text.delta" and item.data.get("delta"):
                yield chunk([Part(root=TextPart(text=str(item.data["delta"])))], append=streamed, last=False)
                streamed = True
            elif item.type in _FINAL:
                final = RunPublic.model_validate(item.data["run"])
    finally:
        aclose: Any = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    if final is None:
        return
    if final.status == "succeeded" and final.output is not None:
        if streamed and isinstance(final.output, str):
            yield chunk([Part(root=TextPart(text=""))], append=True, last=True)
        else:
            yield chunk(tasks.output_parts(final.output), append=False, last=True)
    status = tasks.status_of(final)
    yield frame(
        TaskStatusUpdateEvent(task_id=run.id, context_id=tasks.context_of(run), status=status, final=True)
    )
