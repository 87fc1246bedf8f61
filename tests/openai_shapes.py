"""Strict shape checks of what the OpenAI-compatible API sends, against the official ``openai``
Python SDK's own pydantic types (the SDK itself parses leniently, so drift would go unseen).

Every object and every streamed event must validate in pydantic's strict JSON mode (no
coercion: a string where the SDK types an object fails) and carry no field its SDK type does
not declare (the SDK's models allow extras; we walk them and refuse any). ``CheckedTransport``
applies the checks to every reply an ``openai.OpenAI`` client receives in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import httpx
import pydantic
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.shared import ErrorObject


def _members(tp: Any) -> tuple[Any, ...]:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return get_args(tp) if get_origin(tp) is Union else (tp,)


@cache
def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    members = _members(tp)
    if len(members) == 1:
        return pydantic.TypeAdapter(members[0])
    # The SDK's unions carry its own discriminator marker, which pydantic ignores: pick the
    # member by ``type`` so a mismatch names that member's fields.
    union: Any = Union[members]  # noqa: UP007 - built at runtime from the SDK's members
    return pydantic.TypeAdapter(Annotated[union, pydantic.Field(discriminator="type")])


def _extras(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            yield f"{where}.{key}"
        for name in type(value).model_fields:
            yield from _extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
            yield from _extras(item, f"{where}[{index}]")


def check(tp: Any, raw: str | bytes, where: str = "$") -> Any:
    """``raw`` (JSON) as the SDK type ``tp``; AssertionError on any mismatch or extra field."""
    name = getattr(tp, "__name__", "union")
    try:
        value = _adapter(tp).validate_json(raw, strict=True)
    except pydantic.ValidationError as exc:
        raise AssertionError(f"{where} is not a valid {name}: {exc}\n{raw!r}"[:4000]) from None
    extra = list(_extras(value, where))
    if extra:
        raise AssertionError(f"{where}: fields the SDK's {name} does not declare: {extra}")
    return value


def _sse(body: str) -> Iterator[tuple[str | None, str]]:
    for frame in body.split("\n\n"):
        event: str | None = None
        data: list[str] = []
        for line in frame.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            yield event, "\n".join(data)


def check_error(raw: str | bytes, where: str) -> None:
    body = json.loads(raw)
    assert set(body) == {"error"}, f"{where}: an error body is {{'error': ...}}, got {sorted(body)}"
    check(ErrorObject, json.dumps(body["error"]), f"{where}.error")


def check_reply(method: str, path: str, status: int, content_type: str, raw: bytes) -> int:
    """Check one reply of ``/v1``; returns how many objects / events were checked."""
    where = f"{method} {path}"
    if status >= 400:
        check_error(raw, where)
        return 1
    if content_type.startswith("text/event-stream"):
        count = 0
        for event, data in _sse(raw.decode()):
            if path.endswith("/chat/completions"):
                if data == "[DONE]":
                    continue
                if json.loads(data).get("error") is not None:
                    check_error(data, f"{where} stream")
                else:
                    check(ChatCompletionChunk, data, f"{where} chunk")
            else:
                parsed = check(ResponseStreamEvent, data, f"{where} event")
                assert event == parsed.type, f"{where}: SSE event {event!r} carries {parsed.type!r}"
            count += 1
        return count
    if path.endswith("/models"):
        body = json.loads(raw)
        assert set(body) == {"object", "data"} and body["object"] == "list", body
        for index, item in enumerate(body["data"]):
            check(Model, json.dumps(item), f"{where}.data[{index}]")
        return 1 + len(body["data"])
    tp = ChatCompletion if path.endswith("/chat/completions") else Response
    check(tp, raw, where)
    return 1


class CheckedTransport(httpx.BaseTransport):
    """An httpx transport that checks every ``/v1`` reply (``check_reply``) before the SDK
    parses it; ``checked`` counts the objects and events seen."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.checked = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        raw = response.read()
        response.close()
        self.checked += check_reply(
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            raw,
        )
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=raw, request=request)

    def close(self) -> None:
        self.inner.close()
