"""Structured JSON logs for Cloud Logging.

Each record is one JSON line with ``severity``, ``message``, the request id and, when the
request carried one, the Cloud Trace id (``logging.googleapis.com/trace``), so log lines
group under their request in the console.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_trace: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar("trace", default=None)

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

# Attributes of every LogRecord; anything else passed in ``extra`` is emitted as a field.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def set_request_context(request_id: str | None, trace: tuple[str, str | None] | None) -> None:
    _request_id.set(request_id)
    _trace.set(trace)


def current_request_id() -> str | None:
    return _request_id.get()


def current_trace() -> tuple[str, str | None] | None:
    return _trace.get()


def parse_trace_headers(cloud_trace: str | None, traceparent: str | None) -> tuple[str, str | None] | None:
    """(trace id, span id) from ``traceparent`` or ``X-Cloud-Trace-Context``; None if absent or malformed."""
    if traceparent:
        parts = traceparent.strip().split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and all(c in "0123456789abcdef" for c in parts[1]):
            return parts[1], parts[2] if len(parts[2]) == 16 else None
    if cloud_trace:
        trace_id, _, rest = cloud_trace.strip().partition("/")
        span = rest.split(";", 1)[0] or None
        if trace_id and len(trace_id) <= 64 and trace_id.isalnum():
            return trace_id, span if span and span.isdigit() else None
    return None


class JsonFormatter(logging.Formatter):
    def __init__(self, project: str) -> None:
        super().__init__()
        self._project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(),
            "logger": record.name,
        }
        request_id = _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        trace = _trace.get()
        if trace:
            entry["logging.googleapis.com/trace"] = f"projects/{self._project}/traces/{trace[0]}"
            if trace[1]:
                entry["logging.googleapis.com/spanId"] = trace[1]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            # Tracebacks go to the log (never to a response).
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_configured = False


def configure_logging() -> None:
    """Install the JSON handler on the root logger once per process."""
    global _configured
    if _configured:
        return
    from shared.settings import get_settings

    settings = get_settings()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(settings.gcp_project))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # The Google client libraries log whole request/response payloads at DEBUG (stored
    # password hashes, token digests): keep them at WARNING even when LOG_LEVEL=DEBUG.
    for noisy in (
        "urllib3",
        "google.auth",
        "google.cloud",
        "google.api_core",
        "grpc",
        "firebase_admin",
        "httpx",
        "httpx2",
        "httpcore",
        "werkzeug",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
