"""Serve one Flask request with an ASGI app (a protocol library's server, e.g. the `mcp` SDK's
Streamable HTTP transport), on the instance's event loop (``shared.aio``).

The app sees an ordinary HTTP scope with the request's method, path, query, headers and body;
what it sends back becomes the Flask response, streamed as it is produced (an SSE response
stays an SSE response). If the client goes away, the app's task is cancelled and its cleanup
runs. See docs/architecture.md, "Protocol endpoints".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import flask

AsgiMessage = MutableMapping[str, Any]
AsgiReceive = Callable[[], Awaitable[AsgiMessage]]
AsgiSend = Callable[[AsgiMessage], Awaitable[None]]
AsgiApp = Callable[[MutableMapping[str, Any], AsgiReceive, AsgiSend], Awaitable[None]]
_END: AsgiMessage = {"type": "_end"}


def _scope(request: flask.Request, path: str) -> dict[str, Any]:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": request.query_string,
        "headers": headers,
        "client": (request.remote_addr or "127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


async def _exchange(app: AsgiApp, scope: dict[str, Any], body: bytes) -> AsyncIterator[AsgiMessage]:
    """Run ``app`` for one request and yield the messages it sends, as it sends them."""
    outbox: asyncio.Queue[AsgiMessage] = asyncio.Queue()
    disconnected = asyncio.Event()
    delivered = False

    async def receive() -> AsgiMessage:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: AsgiMessage) -> None:
        await outbox.put(message)

    task = asyncio.ensure_future(app(scope, receive, send))
    task.add_done_callback(lambda _: outbox.put_nowait(_END))
    try:
        while True:
            message = await outbox.get()
            if message is _END:
                task.result()  # the app's own failure, if any
                return
            yield message
    finally:
        disconnected.set()
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task


def serve_asgi(
    app: AsgiApp, request: flask.Request, body: bytes, *, path: str | None = None
) -> flask.Response:
    """The Flask response ``app`` gives for ``request`` (with ``body`` already read)."""
    from shared.runs.streaming import drive

    messages = drive(_exchange(app, _scope(request, path or request.path), body))
    start = next(messages)
    if start.get("type") != "http.response.start":
        raise RuntimeError("the ASGI app sent no response")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]

    def chunks() -> Iterator[bytes]:
        try:
            for message in messages:
                if message.get("type") == "http.response.body":
                    data = message.get("body", b"")
                    if data:
                        yield bytes(data)
                    if not message.get("more_body", False):
                        return
        finally:
            close = getattr(messages, "close", None)
            if close is not None:
                close()

    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if content_type.startswith("text/event-stream"):
        response = flask.Response(flask.stream_with_context(chunks()), status=int(start["status"]))
    else:
        response = flask.Response(b"".join(chunks()), status=int(start["status"]))
    for key, value in headers:
        if key.lower() == "content-type":
            response.headers["Content-Type"] = value
        elif key.lower() not in ("content-length", "transfer-encoding", "connection"):
            response.headers.add(key, value)
    return response
