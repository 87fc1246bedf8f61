"""What maps between OpenAI requests and an agent run: the model, the messages, the output format.

Anything that cannot map is a ``BadRequest`` naming the parameter (rendered in OpenAI's
error shape by ``shared.openai_compat.errors``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from shared import db
from shared.errors import BadRequest, NotFound
from shared.openai_compat.schemas import ResponseFormat

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal


# Ids of the Responses API: a response is a run (``resp_<run id>``); an approval request is a
# paused tool call (``mcpr_<tool call id>``).
RESPONSE_PREFIX = "resp_"
APPROVAL_PREFIX = "mcpr_"


def unsupported(param: str, message: str) -> BadRequest:
    return BadRequest(message, code="unsupported_parameter", details={"param": param})


def invalid(param: str, message: str) -> BadRequest:
    return BadRequest(message, code="invalid_value", details={"param": param})


def model_not_found(model: str) -> NotFound:
    return NotFound(
        f"The model '{model}' does not exist or you do not have access to it.",
        code="model_not_found",
        details={"param": "model"},
    )


def resolve_agent(principal: Principal, model: str) -> AgentRecord:
    """The caller's runnable agent named ``model`` (its name, or its id)."""
    from google.cloud.firestore import FieldFilter

    from shared.agents.repository import AGENTS, AgentRecord, runnable_agent

    if db.is_valid_doc_id(model):
        try:
            return runnable_agent(model, principal)
        except NotFound:
            pass
    collection: Any = db.collection(AGENTS)
    query = (
        collection.where(filter=FieldFilter("owner_id", "==", principal.user_id))
        .where(filter=FieldFilter("deleted", "==", False))
        .where(filter=FieldFilter("name", "==", model))
        .limit(2)
    )
    found = [AgentRecord.model_validate({**(s.to_dict() or {}), "id": s.id}) for s in db.query(query)]
    if not found:
        raise model_not_found(model)
    if len(found) > 1:
        raise invalid("model", f"several of your agents are named '{model}': use the agent's id as the model")
    principal.require_agent(found[0].id)
    return found[0]


# -- output format -------------------------------------------------------------------------------


def check_format(agent: AgentRecord, fmt: ResponseFormat | None, param: str) -> None:
    """The requested format must be what the agent produces: text, or its output schema."""
    schema = agent.definition.output_schema
    if fmt is None:
        return
    if fmt.type == "text":
        if schema is not None:
            raise invalid(
                param, "this agent answers with JSON (its output schema): ask for json_schema or json_object"
            )
        return
    if schema is None:
        raise invalid(param, "this agent answers with text: it has no output schema")
    if fmt.type == "json_schema":
        requested = fmt.schema_ if fmt.schema_ is not None else (fmt.json_schema or {}).get("schema")
        if requested is not None and requested != schema:
            raise invalid(param, "the requested JSON schema is not the agent's output schema")


def output_text(output: Any) -> str:
    """A run's output as message text (structured output as compact JSON)."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, separators=(",", ":"))


# -- messages ------------------------------------------------------------------------------------


def _text_of(content: Any, param: str, *, part_types: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[Any] = list(content)  # pyright: ignore[reportUnknownArgumentType]
        texts: list[str] = []
        for index, part in enumerate(parts):
            fields: dict[str, Any] = (
                cast(dict[str, Any], part) if isinstance(part, dict) else {"type": type(part).__name__}
            )
            kind = fields.get("type")
            if not isinstance(part, dict) or kind not in part_types:
                raise unsupported(f"{param}[{index}]", f"content parts of type '{kind}' are not supported")
            text = fields.get("text")
            if not isinstance(text, str):
                raise invalid(f"{param}[{index}].text", "must be a string")
            texts.append(text)
        return "".join(texts)
    raise invalid(param, "must be a string or a list of text parts")


@dataclass
class Turn:
    role: str  # system | user | assistant
    text: str


@dataclass
class Conversation:
    """The run's input (the last user turn) and the history before it."""

    input: str
    history: list[ModelMessage]


def to_history(turns: list[Turn]) -> list[ModelMessage]:
    """Turns as pydantic-ai messages: system and user turns become requests, assistant turns
    responses (the agent's own system prompt is applied as instructions on every request)."""
    from pydantic_ai.messages import ModelRequest, ModelResponse, SystemPromptPart, TextPart, UserPromptPart

    messages: list[ModelMessage] = []
    pending: list[Any] = []
    for turn in turns:
        if turn.role == "assistant":
            if pending:
                messages.append(ModelRequest(parts=pending))
                pending = []
            messages.append(ModelResponse(parts=[TextPart(content=turn.text)]))
        elif turn.role == "system":
            pending.append(SystemPromptPart(content=turn.text))
        else:
            pending.append(UserPromptPart(content=turn.text))
    if pending:
        messages.append(ModelRequest(parts=pending))
    return messages


def split_conversation(turns: list[Turn], param: str) -> Conversation:
    if not turns or turns[-1].role != "user":
        raise invalid(param, "the last message must be the user's")
    prompt = turns[-1].text
    if not prompt.strip():
        raise invalid(param, "the last user message must not be empty")
    return Conversation(input=prompt, history=to_history(turns[:-1]))


_CHAT_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def chat_turns(messages: list[dict[str, Any]]) -> list[Turn]:
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        role = message.get("role")
        if role == "tool" or role == "function" or message.get("tool_calls") or message.get("function_call"):
            raise unsupported(
                param, "client-side function tools are not supported: the agent's own tools run on the server"
            )
        if role not in _CHAT_ROLES:
            raise invalid(f"{param}.role", f"unknown role {role!r}")
        extra = set(message) - {"role", "content", "name", "refusal"}
        if extra:
            raise unsupported(
                f"{param}.{sorted(extra)[0]}", f"message field '{sorted(extra)[0]}' is not supported"
            )
        content = message.get("content")
        if content is None and role == "assistant":
            content = ""
        turns.append(Turn(_CHAT_ROLES[role], _text_of(content, f"{param}.content", part_types=("text",))))
    return turns


_RESPONSE_PART_TYPES = ("input_text", "output_text", "text")


def response_turns(input_value: str | list[dict[str, Any]], instructions: str | None) -> list[Turn]:
    turns: list[Turn] = [Turn("system", instructions)] if instructions else []
    if isinstance(input_value, str):
        return [*turns, Turn("user", input_value)]
    for index, item in enumerate(input_value):
        param = f"input[{index}]"
        kind = item.get("type", "message")
        if kind != "message":
            raise unsupported(param, f"input items of type '{kind}' are not supported (only messages)")
        role = item.get("role")
        if role not in _CHAT_ROLES:
            raise invalid(f"{param}.role", f"unknown role {role!r}")
        extra = set(item) - {"type", "role", "content", "id", "status"}
        if extra:
            raise unsupported(
                f"{param}.{sorted(extra)[0]}", f"item field '{sorted(extra)[0]}' is not supported"
            )
        text = _text_of(item.get("content"), f"{param}.content", part_types=_RESPONSE_PART_TYPES)
        turns.append(Turn(_CHAT_ROLES[role], text))
    return turns
