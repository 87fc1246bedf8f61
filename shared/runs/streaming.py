"""Rendering a run's stream: our SSE events, or the Vercel AI SDK UI-message stream.

The Vercel stream is produced by pydantic-ai's own encoder (``VercelAIEventStream``) from the
pydantic-ai events the execution core passes through, so ``useChat`` works unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from shared.runs.events import StoredEvent
from shared.runs.runner import StreamItem
from shared.web.responses import format_sse

VERCEL_HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
T = TypeVar("T")
# How long closing a stream waits for the run to be finished (record, lease, events).
CLOSE_WAIT_SECONDS = 60.0


def drive(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate a run's async event stream from the sync request thread (one task, see aio)."""
    from shared import aio

    return aio.iterate(agen, close_wait_seconds=CLOSE_WAIT_SECONDS)


def sse_frames(items: Iterator[StreamItem]) -> Iterator[str]:
    """One SSE frame (``id:``, ``event:``, ``data:``) per run event, as each arrives."""
    try:
        for item in items:
            if item.type is not None:
                yield format_sse(item.type, item.data, item.id)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def closing(frames: Iterator[str]) -> Iterator[str]:
    """Pass frames through, closing the source when the response is closed."""
    try:
        yield from frames
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def replay_frames(events: list[StoredEvent]) -> Iterator[str]:
    for event in events:
        yield format_sse(event.type, event.data, event.id)


class RunFailedError(Exception):
    """Ends a UI adapter's stream with its error event (the text is ours: code and safe message)."""


async def adapter_frames(
    stream: Any,
    items: AsyncIterator[StreamItem],
    *,
    adjust: Callable[[Any], Any] | None = None,
    refine: Callable[[AsyncIterator[Any]], AsyncIterator[Any]] | None = None,
) -> AsyncIterator[str]:
    """Encode a run's native pydantic-ai events with a UI adapter's event stream (Vercel AI,
    AG-UI); a failed run becomes the adapter's error event, and the run's stream is closed.
    ``adjust`` may change each adapter event before it is encoded, ``refine`` filter them."""

    async def natives() -> AsyncIterator[Any]:
        async for item in items:
            if item.type == "run.failed":
                error: dict[str, Any] = item.data["run"].get("error") or {}
                raise RunFailedError(
                    f"{error.get('code', 'failed')}: {error.get('message', 'the run failed')}"
                )
            if item.native is not None:
                yield item.native

    events: AsyncIterator[Any] = stream.transform_stream(natives())
    if refine is not None:
        events = refine(events)
    try:
        async for event in events:
            yield str(stream.encode_event(adjust(event) if adjust is not None else event))
    finally:
        aclose: Any = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


async def vercel_frames(items: AsyncIterator[StreamItem]) -> AsyncIterator[str]:
    from pydantic_ai.ui.vercel_ai import VercelAIEventStream

    # SDK v6 protocol: a paused run ends with tool-approval-request chunks (v5 has none).
    async for frame in adapter_frames(VercelAIEventStream(sdk_version=6), items):
        yield frame
