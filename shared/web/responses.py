"""Rendering: JSON bodies, explicit status replies, and unbuffered SSE streams."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import flask
from pydantic import BaseModel


@dataclass
class Reply:
    """A handler result with an explicit status and headers."""

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict[str, str])


def to_jsonable(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    if isinstance(body, list):
        return [to_jsonable(item) for item in body]  # pyright: ignore[reportUnknownVariableType]
    return body


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> flask.Response:
    payload = json.dumps(to_jsonable(body), ensure_ascii=False, separators=(",", ":"), default=str)
    response = flask.Response(payload, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def no_content(headers: Mapping[str, str] | None = None) -> flask.Response:
    response = flask.Response(status=204)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def format_sse(event: str | None, data: Any, event_id: str | int | None = None) -> str:
    """One SSE frame; ``data`` is JSON-encoded unless already a string."""
    lines: list[str] = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    text = data if isinstance(data, str) else json.dumps(to_jsonable(data), ensure_ascii=False, default=str)
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return "\n".join(lines) + "\n\n"


def sse_response(frames: Iterable[str], headers: Mapping[str, str] | None = None) -> flask.Response:
    """Stream SSE frames as they are produced (no buffering anywhere on the way)."""

    def generate() -> Iterator[bytes]:
        for frame in frames:
            yield frame.encode("utf-8")

    response = flask.Response(flask.stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
