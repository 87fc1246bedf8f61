"""A run as an A2A task (v0.3 models from the official ``a2a-sdk``): state, RFC 3339
timestamps with a zone, history (the input and the answer) and the output as an artifact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from a2a.compat.v0_3.types import Artifact, Message, Part, Task, TaskStatus

    from shared.runs.schemas import RunPublic

# Run status → A2A task state.
STATES: dict[str, str] = {
    "queued": "submitted",
    "running": "working",
    "requires_action": "input-required",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "canceled",
}
OUTPUT_ARTIFACT = "output"


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 with an explicit zone (the a2a-sdk client rejects naive timestamps)."""
    value = moment or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def context_of(run: RunPublic) -> str:
    return run.session_id or run.id


def text_of(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def output_parts(output: Any) -> list[Part]:
    """Text as a text part; structured output as a data part (an object; other JSON values
    are wrapped as ``{"result": value}``)."""
    from a2a.compat.v0_3.types import DataPart, Part, TextPart

    if output is None:
        return []
    if isinstance(output, str):
        return [Part(root=TextPart(text=output))]
    data: dict[str, Any] = cast(dict[str, Any], output) if isinstance(output, dict) else {"result": output}
    return [Part(root=DataPart(data=data))]


def agent_message(run: RunPublic, text: str, suffix: str) -> Message:
    from a2a.compat.v0_3.types import Message, Part, Role, TextPart

    return Message(
        role=Role.agent,
        parts=[Part(root=TextPart(text=text))],
        message_id=f"{run.id}-{suffix}",
        task_id=run.id,
        context_id=context_of(run),
    )


def user_message(run: RunPublic) -> Message:
    from a2a.compat.v0_3.types import Message, Part, Role, TextPart

    prompt = (
        run.input
        if isinstance(run.input, str)
        else " ".join(str(p.get("text", "")) for p in run.input if p.get("type") == "text")
    )
    return Message(
        role=Role.user,
        parts=[Part(root=TextPart(text=prompt))],
        message_id=f"{run.id}-input",
        task_id=run.id,
        context_id=context_of(run),
    )


def status_of(run: RunPublic) -> TaskStatus:
    from a2a.compat.v0_3.types import TaskState, TaskStatus

    moment = run.finished_at or run.started_at or run.created_at
    message: Message | None = None
    if run.status == "failed" and run.error is not None:
        message = agent_message(run, f"{run.error.code}: {run.error.message}", "error")
    elif run.status == "requires_action":
        message = agent_message(
            run,
            f"the run waits for approval of tool calls: decide them with POST /runs/{run.id}/approvals",
            "approval",
        )
    return TaskStatus(state=TaskState(STATES[run.status]), timestamp=timestamp(moment), message=message)


def artifact_of(run: RunPublic) -> Artifact | None:
    from a2a.compat.v0_3.types import Artifact

    if run.status != "succeeded" or run.output is None:
        return None
    return Artifact(artifact_id=OUTPUT_ARTIFACT, name="output", parts=output_parts(run.output))


def task_of(run: RunPublic, history_length: int | None = None) -> Task:
    from a2a.compat.v0_3.types import Task

    history = [user_message(run)]
    if run.status == "succeeded" and run.output is not None:
        history.append(agent_message(run, text_of(run.output), "output"))
    if history_length is not None:
        history = history[-history_length:] if history_length > 0 else []
    artifact = artifact_of(run)
    return Task(
        id=run.id,
        context_id=context_of(run),
        status=status_of(run),
        history=history,
        artifacts=[artifact] if artifact is not None else None,
        metadata={"agent_id": run.agent_id, "run_status": run.status, "source": run.source},
    )


def dump(model: Any) -> dict[str, Any]:
    """A v0.3 model as its JSON wire form (camelCase, no nulls)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
