"""The Pub/Sub worker (completed by the async issue)."""

from __future__ import annotations

import logging
from typing import Any

_log = logging.getLogger("shared.worker")


def handle_run_event(event: Any) -> None:
    _log.info("run message received", extra={"event_id": event["id"]})
