"""The ``dispatcher`` function: what happens because a run finished or a minute passed.

Every message arrives as a Pub/Sub push (CloudEvent, topic named by the push URL) and is
routed by its topic:

- ``run-results`` (every finished run, and runs pausing for approval): the run's webhook
  event (``shared.webhooks.events``), ``batch.completed`` when it was a batch's last run, and
  the schedule's failure count (``shared.schedules.results``);
- ``webhook-deliveries``: one attempt at one delivery (``shared.webhooks.sender``); a failed
  attempt is refused so Pub/Sub retries it with backoff;
- ``webhook-deliveries-dead-letter``: a delivery whose round of attempts ran out;
- ``schedule-ticks`` (Cloud Scheduler, every minute): start the schedules that are due
  (``shared.schedules.tick``).

Returning acks the message; raising makes Pub/Sub redeliver it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.errors import ServiceUnavailable
from shared.settings import get_settings
from shared.worker import PushedMessage, RetryLater, decode_event

_log = logging.getLogger(__name__)


def handle_event(event: Any) -> None:
    message = decode_event(event)
    if message is None:
        _log.warning("undecodable dispatcher message dropped", extra={"event_id": event["id"]})
        return
    handle_message(message)


def handle_message(message: PushedMessage) -> None:
    settings = get_settings()
    topic = message.topic
    try:
        if topic == settings.run_results_topic:
            on_run_result(message)
        elif topic == settings.webhook_deliveries_topic:
            _deliver(message)
        elif topic == settings.webhook_dead_letter_topic:
            from shared.webhooks.sender import dead_lettered

            ids = _delivery_ids(message)
            if ids is not None:
                dead_lettered(*ids)
        elif topic == settings.schedule_ticks_topic:
            from shared.schedules.tick import tick

            tick()
        else:
            _log.warning("dispatcher message from an unknown topic dropped", extra={"topic": topic})
    except ServiceUnavailable as exc:
        raise RetryLater(f"a backend is unavailable: {exc.message}") from None


def _json(message: PushedMessage) -> dict[str, Any] | None:
    try:
        value: Any = json.loads(message.data or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _delivery_ids(message: PushedMessage) -> tuple[str, str] | None:
    payload = _json(message) or {}
    webhook_id = payload.get("webhook_id") or message.attributes.get("webhook_id")
    delivery_id = payload.get("delivery_id") or message.attributes.get("delivery_id")
    if not isinstance(webhook_id, str) or not isinstance(delivery_id, str):
        _log.warning("delivery message without ids dropped", extra={"message_id": message.message_id})
        return None
    return webhook_id, delivery_id


def _deliver(message: PushedMessage) -> None:
    from shared.webhooks.sender import attempt

    ids = _delivery_ids(message)
    if ids is not None and attempt(*ids) == "retry":
        raise RetryLater(f"delivery {ids[1]} to webhook {ids[0]} failed; Pub/Sub retries it")


def on_run_result(message: PushedMessage) -> None:
    """A finished (or paused) run: its webhook events and its schedule's bookkeeping."""
    from shared.webhooks import repository
    from shared.webhooks.events import emit, run_event

    run = _json(message)
    if run is None or not isinstance(run.get("id"), str):
        _log.warning("run result without a run dropped", extra={"message_id": message.message_id})
        return
    if isinstance(run.get("schedule_id"), str) and run["schedule_id"]:
        from shared.schedules.results import record_result

        record_result(run)
    event = run_event(run)
    if event is not None:
        emit(event)
        batch_id = run.get("batch_id")
        if (
            isinstance(batch_id, str)
            and batch_id
            and repository.subscribers(event.owner_id, "batch.completed")
        ):
            _batch_completed(batch_id, event.owner_id)


def _batch_completed(batch_id: str, owner_id: str) -> None:
    from shared.auth.principal import Principal
    from shared.errors import NotFound
    from shared.runs.batches import get_batch
    from shared.webhooks.events import Event, emit, event_id

    try:
        batch = get_batch(Principal(user_id=owner_id, username="", role="user"), batch_id)
    except NotFound:
        return
    if batch.status != "completed":
        return
    data = {"batch": batch.model_dump(mode="json")}
    from datetime import UTC, datetime

    emit(Event(event_id("batch.completed", batch_id), "batch.completed", owner_id, data, datetime.now(UTC)))
