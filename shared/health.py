"""``GET <prefix>/health``: which backends this function reaches, 503 if one is down."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from shared.errors import ServiceUnavailable

CHECK_TIMEOUT_SECONDS = 3.0


def check_firestore() -> None:
    from shared import db

    # A point read of a document that need not exist: cheapest proof the database answers.
    ref = db.client().collection("_health").document("ping")
    ref.get(timeout=CHECK_TIMEOUT_SECONDS, retry=None)  # pyright: ignore[reportUnknownMemberType]


def check_pubsub() -> None:
    from shared.clients import publisher, topic_path
    from shared.settings import get_settings

    publisher().get_topic(  # pyright: ignore[reportUnknownMemberType]
        request={"topic": topic_path(get_settings().run_requests_topic)},
        timeout=CHECK_TIMEOUT_SECONDS,
        retry=None,
    )


CHECKS: dict[str, Callable[[], None]] = {"firestore": check_firestore, "pubsub": check_pubsub}


def health_report(function: str, backends: tuple[str, ...]) -> dict[str, Any]:
    """Probe each backend; raise 503 (with the per-backend report) when any is down."""
    results: dict[str, Any] = {}
    healthy = True
    for name in backends:
        started = time.perf_counter()
        try:
            CHECKS[name]()
            results[name] = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:
            healthy = False
            results[name] = {"status": "unavailable", "error": type(exc).__name__}
    if not healthy:
        down = [n for n, r in results.items() if r["status"] != "ok"]
        raise ServiceUnavailable(
            f"backend unavailable: {', '.join(down)}", retry_after=5, details={"backends": results}
        )
    return {"status": "ok", "function": function, "backends": results}


class BackendStatus(BaseModel):
    status: str
    latency_ms: float | None = None
    error: str | None = None


class HealthReport(BaseModel):
    status: str
    function: str
    backends: dict[str, BackendStatus]
