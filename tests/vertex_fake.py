"""A local HTTP server speaking the Vertex AI wire formats pydantic-ai's real models use.

- Gemini: ``POST .../publishers/google/models/{model}:generateContent`` and
  ``:streamGenerateContent?alt=sse`` (``data: {...}`` chunks);
- Claude: ``POST .../publishers/anthropic/models/{model}:rawPredict`` and ``:streamRawPredict``
  (Anthropic Messages JSON / named SSE events).

The wire formats themselves, recorded from the real APIs, live in ``tests/fake_gemini.py`` and
``tests/fake_claude.py``; like the real APIs, the fake rejects requests they reject (before a
scripted step is used) and answers unknown models with 404 in each API's error format.

Each test scripts the replies: ``fake.script([...])`` queues steps, consumed one per request:
``{"text": "..."}``, ``{"tool": name, "args": {...}}`` / ``{"tools": [{"name", "args"}, ...]}``
(parallel calls; ``text`` may come first), ``{"thinking": "..."}`` (with text or tools),
``{"finish": "length" | "content_filter" | "armor" | "blocked"}`` (abnormal stops; ``armor``
and ``blocked`` are Gemini's MODEL_ARMOR and promptFeedback.blockReason), ``{"usage": {"input",
"output", "thoughts"}}``, ``{"grounding": True | "query"}`` (a Gemini Google Search turn's
``groundingMetadata``), or ``{"status": 429}`` (an error reply in the API's own format).
Every request is recorded (``fake.requests``) so tests can check what the model was sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests import fake_claude, fake_gemini


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.path.split("?")[0].rsplit(":", 1)[-1]


@dataclass
class VertexFake:
    server: ThreadingHTTPServer
    steps: deque[dict[str, Any]] = field(default_factory=deque[dict[str, Any]])
    requests: list[RecordedRequest] = field(default_factory=list[RecordedRequest])
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Requests the fake refused as the real API would (status, error body).
    rejections: list[tuple[int, dict[str, Any]]] = field(default_factory=list[tuple[int, dict[str, Any]]])
    models: set[str] = field(default_factory=lambda: _catalog_models())
    call_index: list[int] = field(default_factory=lambda: [0])

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, steps: list[dict[str, Any]]) -> None:
        with self.lock:
            self.steps.extend(steps)

    def next_step(self) -> dict[str, Any]:
        with self.lock:
            return self.steps.popleft() if self.steps else {"text": "(unscripted)"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _catalog_models() -> set[str]:
    """The models this Vertex project "has": every catalogued Vertex model id."""
    data = json.loads(Path(__file__).parents[1].joinpath("shared/agents/models.json").read_text())
    return {str(m["vertex_model_id"]) for m in data["models"]}


def _scripted_error(anthropic: bool, status: int, model: str) -> dict[str, Any]:
    if anthropic:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        return fake_claude.error_body(kind, "scripted failure")
    return fake_gemini.error_body(status, "scripted failure")


def _make_handler(fake_ref: list[VertexFake]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_sse(self, frames: list[bytes]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for frame in frames:
                self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def do_POST(self) -> None:
            fake = fake_ref[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            body = json.loads(raw or b"{}")
            with fake.lock:
                fake.requests.append(RecordedRequest(self.path, dict(self.headers.items()), body))
            path = self.path.split("?")[0]
            model = path.split("/models/")[-1].split(":")[0]
            anthropic = "/publishers/anthropic/" in path
            if model not in fake.models:
                if anthropic:
                    error = fake_claude.error_body("not_found_error", f"model: {model}")
                else:
                    error = fake_gemini.error_body(
                        404,
                        f"Publisher Model `publishers/google/models/{model}` was not found or your "
                        "project does not have access to it.",
                    )
                self._send_json(404, error)
                return
            rejected = fake_claude.reject(model, body) if anthropic else fake_gemini.reject(model, body)
            if rejected is not None:
                with fake.lock:
                    fake.rejections.append(rejected)
                self._send_json(*rejected)
                return
            step = fake.next_step()
            if "status" in step:
                status = int(step["status"])
                headers = {"retry-after-ms": "10"} if anthropic else None
                self._send_json(status, _scripted_error(anthropic, status, model), headers)
                return
            if path.endswith(":generateContent"):
                self._send_json(200, fake_gemini.response(model, step, fake.call_index))
            elif path.endswith(":streamGenerateContent"):
                chunks = fake_gemini.stream(model, step, fake.call_index)
                self._send_sse([f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks])
            elif path.endswith(":rawPredict"):
                self._send_json(200, fake_claude.message(model, step, fake.call_index))
            elif path.endswith(":streamRawPredict"):
                events = fake_claude.stream(model, step, fake.call_index)
                self._send_sse(
                    [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
                )
            else:
                self._send_json(404, fake_gemini.error_body(404, "unknown path"))

    return Handler


def start_vertex_fake() -> VertexFake:
    """Start the fake on a free loopback port, serving from a daemon thread."""
    ref: list[VertexFake] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(ref))
    server.daemon_threads = True
    fake = VertexFake(server)
    ref.append(fake)
    threading.Thread(target=server.serve_forever, name="vertex-fake", daemon=True).start()
    return fake
