"""Webhook events: what happened, as ``{type, timestamp, data}``, fanned out to endpoints.

An event's id is derived from what happened (``event_id``), never from the message that told
us, so a run result delivered twice is one event, one delivery per endpoint and one
``webhook-id``. ``emit`` creates the owner's deliveries (create-if-absent) and publishes one
message per open delivery to the deliveries topic; the sender attempts it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import db
from shared.settings import get_settings
from shared.webhooks import repository
from shared.webhooks.schemas import DeliveryRecord, WebhookRecord

_log = logging.getLogger(__name__)

# A run's status when it is published to the run-results topic → the event it is.
RUN_EVENTS: dict[str, str] = {
    "succeeded": "run.completed",
    "failed": "run.failed",
    "cancelled": "run.cancelled",
    "requires_action": "run.requires_action",
}
# Events a run reaches once (its terminal ones); a run may pause for approval many times.
_ONCE_PER_RUN = frozenset({"run.completed", "run.failed", "run.cancelled"})
# Deliveries are kept this long for the log (Firestore TTL on ``expires_at``).
DELIVERY_RETENTION = timedelta(days=30)
# A payload above this is sent with the run's output elided (Firestore documents ≤ 1 MiB).
MAX_PAYLOAD_CHARS = 600_000


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    owner_id: str
    data: dict[str, Any]
    timestamp: datetime

    def payload(self) -> str:
        body = {"type": self.type, "timestamp": _rfc3339(self.timestamp), "data": self.data}
        text = json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)
        if len(text) > MAX_PAYLOAD_CHARS and isinstance(self.data.get("run"), dict):
            run = {**self.data["run"], "output": None}
            body["data"] = {**self.data, "run": run, "truncated": True}
            text = json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)
        return text


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_id(*parts: str) -> str:
    """``msg_`` + a digest of what identifies the occurrence (the ``webhook-id``)."""
    return "msg_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def run_event(run: dict[str, Any]) -> Event | None:
    """The event a published run result is (None for statuses no event describes)."""
    event_type = RUN_EVENTS.get(str(run.get("status")))
    owner_id = run.get("owner_id")
    run_id = run.get("id")
    if event_type is None or not isinstance(owner_id, str) or not isinstance(run_id, str):
        return None
    if event_type in _ONCE_PER_RUN:
        identity = event_id(event_type, run_id)
    else:  # each pause is its own event; the same pause published twice is the same run object
        identity = event_id(event_type, run_id, json.dumps(run, sort_keys=True, default=str))
    at = _parse_time(run.get("finished_at")) or datetime.now(UTC)
    return Event(identity, event_type, owner_id, {"run": run}, at)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def new_delivery(event: Event, webhook: WebhookRecord, now: datetime) -> DeliveryRecord:
    return DeliveryRecord(
        id=event.id,
        webhook_id=webhook.id,
        event_type=event.type,
        status="pending",
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
        owner_id=event.owner_id,
        payload=event.payload(),
        round_started_at=now,
        expires_at=now + DELIVERY_RETENTION,
    )


def emit(event: Event, *, to: list[WebhookRecord] | None = None) -> list[DeliveryRecord]:
    """Create the event's delivery for each subscribed endpoint (or ``to``) and queue them.

    Idempotent: an existing delivery is not recreated; one still open is queued again (its
    first message may never have been published; a duplicate message is harmless). Raises
    ``ServiceUnavailable`` if a publish failed, so the caller's message is retried.
    """
    targets = to if to is not None else repository.subscribers(event.owner_id, event.type)
    targets = [w for w in targets if w.owner_id == event.owner_id]
    deliveries: list[DeliveryRecord] = []
    for webhook in targets:
        delivery = _create_once(new_delivery(event, webhook, datetime.now(UTC)))
        if delivery.status in ("pending", "retrying"):
            deliveries.append(delivery)
    queue(deliveries)
    return deliveries


def _create_once(delivery: DeliveryRecord) -> DeliveryRecord:
    from google.api_core.exceptions import AlreadyExists

    ref = repository.delivery_ref(delivery.webhook_id, delivery.id)
    try:
        db.create(ref, repository.to_doc(delivery))
        return delivery
    except AlreadyExists:
        existing = repository.load_delivery(delivery.webhook_id, delivery.id)
        return existing if existing is not None else delivery


def queue(deliveries: list[DeliveryRecord]) -> None:
    """Publish one message per delivery to the deliveries topic (ServiceUnavailable on failure)."""
    from shared.clients import publisher, topic_path
    from shared.errors import ServiceUnavailable

    if not deliveries:
        return
    settings = get_settings()
    client: Any = publisher()
    topic = topic_path(settings.webhook_deliveries_topic)
    futures: list[Any] = []
    try:
        for delivery in deliveries:
            data = json.dumps({"webhook_id": delivery.webhook_id, "delivery_id": delivery.id}).encode()
            futures.append(
                client.publish(topic, data, webhook_id=delivery.webhook_id, delivery_id=delivery.id)
            )
        for future in futures:
            future.result(timeout=settings.run_publish_timeout_seconds)
    except Exception as exc:
        _log.warning("could not queue webhook deliveries", exc_info=True)
        raise ServiceUnavailable("the webhook queue is unavailable", retry_after=5) from exc
