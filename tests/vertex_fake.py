"""A local HTTP server speaking the Vertex AI wire formats pydantic-ai's real models use.

- Gemini: ``POST .../publishers/google/models/{model}:generateContent`` and
  ``:streamGenerateContent?alt=sse`` (``data: {...}`` chunks);
- Claude: ``POST .../publishers/anthropic/models/{model}:rawPredict`` and ``:streamRawPredict``
  (Anthropic Messages JSON / named SSE events).

Each test scripts the replies: ``fake.script([...])`` queues steps, consumed one per request:
``{"text": "..."}``, ``{"tool": name, "args": {...}}`` or ``{"status": 429}`` (an error reply).
Every request is recorded (``fake.requests``) so tests can check what the model was sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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


def _words(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split(" "):
        out.append(word if not out else " " + word)
    return out


# --- Gemini ---------------------------------------------------------------------------------


def _gemini_parts(step: dict[str, Any]) -> list[dict[str, Any]]:
    if "tool" in step:
        return [{"functionCall": {"name": step["tool"], "args": step.get("args", {})}}]
    return [{"text": step.get("text", "")}]


def _gemini_response(parts: list[dict[str, Any]], final: bool, model: str) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-response"}
    if final:
        candidate["finishReason"] = "STOP"
        body["usageMetadata"] = {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19}
    return body


# --- Anthropic ------------------------------------------------------------------------------


def _anthropic_content(step: dict[str, Any]) -> list[dict[str, Any]]:
    if "tool" in step:
        return [
            {"type": "tool_use", "id": "toolu_fake_1", "name": step["tool"], "input": step.get("args", {})}
        ]
    return [{"type": "text", "text": step.get("text", "")}]


def _anthropic_message(step: dict[str, Any], model: str) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_content(step),
        "stop_reason": "tool_use" if "tool" in step else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 7},
    }


def _anthropic_stream(step: dict[str, Any], model: str) -> list[tuple[str, dict[str, Any]]]:
    start = _anthropic_message(step, model)
    start["content"] = []
    start["stop_reason"] = None
    start["usage"] = {"input_tokens": 12, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    if "tool" in step:
        block = {"type": "tool_use", "id": "toolu_fake_1", "name": step["tool"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": json.dumps(step.get("args", {}))}]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": w} for w in _words(step.get("text", ""))]
    events.append(
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
    )
    events.extend(
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas
    )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if "tool" in step else "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 7},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


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
            step = fake.next_step()
            model = self.path.split("/models/")[-1].split(":")[0]
            if "status" in step:
                status = int(step["status"])
                if ":rawPredict" in self.path or ":streamRawPredict" in self.path:
                    kind = "rate_limit_error" if status == 429 else "api_error"
                    self._send_json(
                        status,
                        {"type": "error", "error": {"type": kind, "message": "scripted failure"}},
                        {"retry-after-ms": "10"},
                    )
                else:
                    state = "RESOURCE_EXHAUSTED" if status == 429 else "INTERNAL"
                    self._send_json(
                        status, {"error": {"code": status, "message": "scripted failure", "status": state}}
                    )
                return
            path = self.path.split("?")[0]
            if path.endswith(":generateContent"):
                self._send_json(200, _gemini_response(_gemini_parts(step), True, model))
            elif path.endswith(":streamGenerateContent"):
                if "tool" in step:
                    chunks = [_gemini_response(_gemini_parts(step), True, model)]
                else:
                    words = _words(step.get("text", ""))
                    chunks = [
                        _gemini_response([{"text": w}], i == len(words) - 1, model)
                        for i, w in enumerate(words)
                    ]
                self._send_sse([f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks])
            elif path.endswith(":rawPredict"):
                self._send_json(200, _anthropic_message(step, model))
            elif path.endswith(":streamRawPredict"):
                events = _anthropic_stream(step, model)
                self._send_sse(
                    [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
                )
            else:
                self._send_json(
                    404, {"error": {"code": 404, "message": "unknown path", "status": "NOT_FOUND"}}
                )

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
