"""One persistent event loop per instance for async code called from sync handlers.

pydantic-ai is async; the functions are sync (functions-framework's Flask path). Running
every coroutine on the same long-lived loop keeps cached providers and their HTTP
connection pools valid across requests.
"""

from __future__ import annotations

import asyncio
import queue
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


def iterate(agen: AsyncIterator[T], *, close_wait_seconds: float = 60.0) -> Iterator[T]:
    """Iterate an async generator from sync code, running it in ONE task on the instance loop.

    pydantic-ai runs use task-bound state (anyio cancel scopes, context variables), so the
    generator must not be resumed from a new task per item. Items are handed over through a
    queue as they are produced. If the consumer stops early (a client disconnected), the task
    is cancelled and this waits (bounded) until its cleanup has run.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    finished = threading.Event()
    holder: dict[str, asyncio.Task[Any]] = {}

    async def pump() -> None:
        task = asyncio.current_task()
        if task is not None:
            holder["task"] = task
        try:
            async for item in agen:
                items.put(("item", item))
            items.put(("end", None))
        except BaseException as exc:
            items.put(("error", exc))
            if not isinstance(exc, Exception):
                raise
        finally:
            finished.set()

    running_loop = loop()
    asyncio.run_coroutine_threadsafe(pump(), running_loop)
    try:
        while True:
            kind, value = items.get()
            if kind == "item":
                yield value
            elif kind == "end":
                return
            else:
                raise value
    finally:
        if not finished.is_set():
            task = holder.get("task")
            if task is not None:
                running_loop.call_soon_threadsafe(task.cancel)
            finished.wait(close_wait_seconds)
