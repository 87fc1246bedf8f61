"""The local gateway on http://127.0.0.1:8080: dispatches by path prefix to the function
processes exactly as the production load balancer does, streams responses unbuffered,
serves ``/openapi.json`` and the web console's static files."""

from __future__ import annotations

import http.client
import json
import mimetypes
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.functions import HTTP_FUNCTIONS, ROOT, load_router, openapi_document

WEB_ROOT = ROOT / "client" / "web"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


def build_routes(upstreams: dict[str, str]) -> list[tuple[str, str]]:
    """(prefix, upstream base URL), longest prefix first."""
    routes: list[tuple[str, str]] = []
    for function in HTTP_FUNCTIONS:
        for prefix in load_router(function).prefixes:
            routes.append((prefix, upstreams[function.name]))
    return sorted(routes, key=lambda r: len(r[0]), reverse=True)


READ_ONLY_METHODS = "GET, HEAD, OPTIONS"
# How long a refused connection to a function is retried (a function restarting).
CONNECT_PATIENCE_SECONDS = 15.0


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agents-gateway"
    routes: list[tuple[str, str]] = []
    openapi: bytes = b"{}"
    quiet = False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The HTTP layer's own refusals (a request line over 64 KiB, a malformed request,
        header lines too large) in our JSON error shape, like every other answer."""
        codes = {400: "malformed_request", 414: "uri_too_long", 431: "headers_too_large"}
        self.close_connection = True
        body = _error(codes.get(code, "bad_request"), message or HTTPStatus(code).phrase)
        self._send(code, body, headers={"Connection": "close"})

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            sys.stderr.write("gateway: " + (format % args) + "\n")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    @staticmethod
    def _static_target(path: str) -> Path | None:
        if path in ("", "/"):
            path = "/index.html"
        target = (WEB_ROOT / path.lstrip("/")).resolve()
        if not target.is_file() or WEB_ROOT.resolve() not in target.parents:
            return None
        return target

    def _static(self, path: str) -> bool:
        target = self._static_target(path)
        if target is None:
            return False
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(200, target.read_bytes(), content_type)
        return True

    def _method_not_allowed(self, path: str) -> None:
        """What the functions answer too: 405, our JSON error, and the methods that exist."""
        self._read_body()
        if self.command == "OPTIONS":
            self._send(204, b"", headers={"Allow": READ_ONLY_METHODS})
            return
        self._send(
            405,
            _error("method_not_allowed", f"method {self.command} not allowed on {path}"),
            headers={"Allow": READ_ONLY_METHODS},
        )

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        if path == "/openapi.json":
            if self.command in ("GET", "HEAD"):
                self._send(200, self.openapi)
            else:
                self._method_not_allowed(path)
            return
        upstream = next(
            (base for prefix, base in self.routes if path == prefix or path.startswith(prefix + "/")), None
        )
        if upstream is None:
            if self._static_target(path) is not None:
                if self.command in ("GET", "HEAD"):
                    self._static(path)
                else:
                    self._method_not_allowed(path)
                return
            self._read_body()
            self._send(404, _error("route_not_found", f"no route for {path}"))
            return
        self._proxy(upstream)

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without a ``do_<METHOD>`` with an HTML 501; every
        # method (TRACE, CONNECT, PROPFIND, ...) goes through the same routing instead.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _proxy(self, upstream: str) -> None:
        body = self._read_body()
        target = urlsplit(upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=3600)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        forwarded = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = (
            f"{forwarded}, {self.client_address[0]}" if forwarded else self.client_address[0]
        )
        headers["Content-Length"] = str(len(body))
        # The load balancer keeps the original Host; the gateway reaches the function on its own
        # port, so it passes the host the client used on (A2A agent cards show absolute URLs).
        headers.setdefault("X-Forwarded-Host", self.headers.get("Host") or "")
        try:
            _connect(conn)
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
        except OSError:
            conn.close()
            self._send(503, _error("unavailable", "the function is not reachable"))
            return
        self.send_response(response.status)
        length = response.getheader("Content-Length")
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        chunked = length is None and self.command != "HEAD" and response.status not in (204, 304)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        try:
            while self.command != "HEAD":
                chunk = response.read1(65536)
                if not chunk:
                    break
                if chunked:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    self.wfile.write(chunk)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle  # noqa: N815


def _connect(conn: http.client.HTTPConnection, patience: float = CONNECT_PATIENCE_SECONDS) -> None:
    """Connect, waiting out a refused connection for a while: Cloud Run holds a request while
    an instance starts, so a function being restarted locally must not look like an outage.
    Nothing has been sent when a connection is refused, so retrying it is safe."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.connect()
            return
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def make_gateway(
    host: str, port: int, upstreams: dict[str, str], *, quiet: bool = False
) -> ThreadingHTTPServer:
    handler = type(
        "BoundGatewayHandler",
        (GatewayHandler,),
        {
            "routes": build_routes(upstreams),
            "openapi": json.dumps(openapi_document()).encode(),
            "quiet": quiet,
        },
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Local path-routing gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    upstreams = {f.name: f"http://127.0.0.1:{f.dev_port}" for f in HTTP_FUNCTIONS}
    server = make_gateway(args.host, args.port, upstreams)
    print(f"gateway on http://{args.host}:{args.port} ({time.strftime('%H:%M:%S')})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
