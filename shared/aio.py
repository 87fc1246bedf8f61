"""One persistent event loop per instance for async code called from sync handlers.

pydantic-ai is async; the functions are sync (functions-framework's Flask path). Running
every coroutine on the same long-lived loop keeps cached providers and their HTTP
connection pools valid across requests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            new_loop = asyncio.new_event_loop()
            threading.Thread(target=new_loop.run_forever, name="aio-loop", daemon=True).start()
            _loop = new_loop
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the instance loop and wait for its result."""
    future = asyncio.run_coroutine_threadsafe(coro, loop())
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()
        raise


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """Drive an async iterator from sync code, one item at a time (for SSE streaming).

    If the consumer stops early (client disconnected), the async iterator is closed on
    the loop so its ``finally`` blocks run.
    """
    try:
        while True:
            try:
                item = run(_anext(agen))
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            run(aclose())


async def _anext(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()
