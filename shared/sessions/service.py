"""Session operations behind ``/sessions`` (owner-only; others get 404)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.sessions import repository
from shared.sessions.schemas import (
    SessionCreate,
    SessionDetail,
    SessionMessage,
    SessionPage,
    SessionPublic,
    SessionRecord,
)

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from shared.auth.principal import Principal

MAX_MESSAGE_CHARS = 20_000


def create(principal: Principal, body: SessionCreate) -> SessionPublic:
    from shared.agents.repository import runnable_agent

    runnable_agent(body.agent_id, principal)
    record = repository.create_session(principal.user_id, body.agent_id, body.title)
    return record.public(datetime.now(UTC))


def list_mine(principal: Principal, *, agent_id: str | None, limit: int, cursor: str | None) -> SessionPage:
    if agent_id is not None:
        principal.require_agent(agent_id)
    records, next_cursor = repository.list_sessions(
        principal.user_id, agent_id=agent_id, limit=limit, cursor=cursor, agent_ids=principal.agent_ids
    )
    now = datetime.now(UTC)
    return SessionPage(items=[r.public(now) for r in records], next_cursor=next_cursor)


def _get(principal: Principal, session_id: str) -> SessionRecord:
    """The caller's session (403 ``agent_not_allowed`` for a token restricted to other agents)."""
    record = repository.get_session(session_id, principal.user_id)
    principal.require_agent(record.agent_id)
    return record


def detail(principal: Principal, session_id: str) -> SessionDetail:
    record = _get(principal, session_id)
    messages = readable(repository.load_history(session_id))
    return SessionDetail(session=record.public(datetime.now(UTC)), messages=messages)


def delete(principal: Principal, session_id: str) -> None:
    if principal.agent_ids is not None:
        _get(principal, session_id)
    repository.delete_session(session_id, principal.user_id)


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def readable(messages: list[ModelMessage]) -> list[SessionMessage]:
    """pydantic-ai messages → ``[{role, content, created_at}]`` for people (and UIs)."""
    from pydantic_ai.messages import (
        BinaryContent,
        ModelRequest,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
        UserPromptPart,
    )

    out: list[SessionMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    if isinstance(part.content, str):
                        content = part.content
                    else:
                        content = "\n".join(
                            item
                            if isinstance(item, str)
                            else f"[{item.media_type} attachment]"
                            if isinstance(item, BinaryContent)
                            else "[attachment]"
                            for item in part.content
                        )
                    out.append(SessionMessage(role="user", content=_text(content), created_at=part.timestamp))
                elif isinstance(part, ToolReturnPart) and part.tool_name != "final_result":
                    out.append(
                        SessionMessage(
                            role="tool",
                            content=_text(part.content),
                            created_at=part.timestamp,
                            name=part.tool_name,
                        )
                    )
        else:
            for part in message.parts:
                if isinstance(part, TextPart) and part.content:
                    out.append(
                        SessionMessage(
                            role="assistant", content=_text(part.content), created_at=message.timestamp
                        )
                    )
                elif isinstance(part, ToolCallPart):
                    if part.tool_name == "final_result":
                        # Structured output: show it as the assistant's answer.
                        out.append(
                            SessionMessage(
                                role="assistant",
                                content=_text(part.args_as_dict()),
                                created_at=message.timestamp,
                            )
                        )
                    else:
                        out.append(
                            SessionMessage(
                                role="tool_call",
                                content=_text(part.args_as_dict()),
                                created_at=message.timestamp,
                                name=part.tool_name,
                            )
                        )
    return out
