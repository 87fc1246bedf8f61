"""A small Server-Sent Events parser over an iterator of decoded lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Event:
    event: str
    data: Any
    id: str | None


def parse(lines: Iterable[str]) -> Iterator[Event]:
    """Yield one Event per frame; ``data`` is decoded JSON when it parses, else the raw text."""
    name = ""
    data_lines: list[str] = []
    event_id: str | None = None
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data_lines or name:
                yield Event(name or "message", _decode("\n".join(data_lines)), event_id)
            name, data_lines, event_id = "", [], None
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data_lines.append(value)
        elif field == "id":
            event_id = value
    if data_lines or name:
        yield Event(name or "message", _decode("\n".join(data_lines)), event_id)


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
