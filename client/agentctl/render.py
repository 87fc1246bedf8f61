"""Human output: tables, key/value blocks, JSON, and progress lines on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """Status for humans: stderr, so stdout stays the command's result."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], empty: str = "nothing"
) -> None:
    """``columns`` are (header, key) pairs; a key may be dotted (``stats.rating_avg``)."""
    if not rows:
        info(f"({empty})")
        return
    cells = [[cell(_dig(row, key)) for _, key in columns] for row in rows]
    widths = [max(len(header), *(len(line[i]) for line in cells)) for i, (header, _) in enumerate(columns)]
    out = ["  ".join(header.ljust(widths[i]) for i, (header, _) in enumerate(columns)).rstrip()]
    out.extend("  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip() for line in cells)
    sys.stdout.write("\n".join(out) + "\n")


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(label) for label, _ in pairs)
    for label, value in pairs:
        sys.stdout.write(f"{label.ljust(width)}  {cell(value, limit=None)}\n")


def cell(value: Any, limit: int | None = 48) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(cell(item, None) for item in value)  # pyright: ignore[reportUnknownVariableType]
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    text = " ".join(text.split()) if limit is not None else text
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _dig(row: Mapping[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class Progress:
    """A status line on stderr: redrawn in place on a terminal, one line per change otherwise."""

    def __init__(self) -> None:
        self.interactive = sys.stderr.isatty()
        self._last = ""
        self._started = time.monotonic()

    def update(self, text: str) -> None:
        if text == self._last:
            if self.interactive:
                self._draw(text)
            return
        self._last = text
        if self.interactive:
            self._draw(text)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def _draw(self, text: str) -> None:
        elapsed = time.monotonic() - self._started
        sys.stderr.write(f"\r\033[K{text}  {elapsed:.0f}s")
        sys.stderr.flush()

    def done(self) -> None:
        if self.interactive and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()


def money(value: Any) -> str:
    """``$0.000012``: the one way agentctl writes a cost (USD, six decimals); ``-`` when unknown."""
    return f"${value:.6f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def count(number: Any, noun: str, plural: str | None = None) -> str:
    """``1 request``, ``2 requests``."""
    number = int(number or 0)
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def usage_line(usage: Mapping[str, Any]) -> str:
    """``1 request, 12+30 tokens, 0 tool calls``."""
    return (
        f"{count(usage.get('requests'), 'request')}, {usage.get('input_tokens', 0)}+"
        f"{usage.get('output_tokens', 0)} tokens, {count(usage.get('tool_calls'), 'tool call')}"
    )


def bar(done: int, total: int, width: int = 24) -> str:
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"
