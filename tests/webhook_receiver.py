"""A local webhook receiver for the tests: records every request and answers with scripted statuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list[Received])
    # Statuses to answer with, in order; then `default_status`.
    script: list[int] = field(default_factory=list[int])
    default_status: int = 200
    redirect_to: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} deliveries, got {len(self.received)}")


@contextmanager
def webhook_receiver(path: str = "/hook") -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(
                        {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic(), self.path
                    )
                )
                status = receiver.script.pop(0) if receiver.script else receiver.default_status
            if receiver.redirect_to:
                self.send_response(307)
                self.send_header("Location", receiver.redirect_to)
                self.end_headers()
                return
            payload = (b"ok " * 1000) if status < 300 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
