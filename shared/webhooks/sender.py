"""Sending one delivery: claim it, sign it, POST it through the outbound guard, record it.

``attempt`` answers whether Pub/Sub should try the message again: a failed attempt is
refused (the subscription's retry policy backs off exponentially, 10 s to 10 min), a closed
or duplicate one is acked. After the subscription's maximum attempts Pub/Sub moves the
message to the dead-letter topic; ``dead_lettered`` then starts another round while the
delivery is younger than ``WEBHOOK_RETRY_WINDOW_SECONDS`` (≥ 24 h, default 3 days) and
otherwise closes it ``failed``.

An endpoint whose deliveries have failed without a single success for
``WEBHOOK_DISABLE_AFTER_SECONDS`` (5 days) is disabled, and a ``webhook.disabled`` event goes
to the owner's other endpoints that subscribe to it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Literal

from shared import db, outbound
from shared.settings import get_settings
from shared.webhooks import lifecycle, repository
from shared.webhooks.schemas import TEST_EVENT, DeliveryRecord, WebhookRecord

_log = logging.getLogger(__name__)

Outcome = Literal["done", "retry"]


def signing_secrets(webhook: WebhookRecord, now: datetime) -> list[str]:
    """The current secret, plus the previous one during its 24 h overlap after a rotation."""
    found = [webhook.secret]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and expires > now:
        found.append(webhook.previous_secret)
    return found


def _claim(webhook_id: str, delivery_id: str, hold_seconds: float) -> DeliveryRecord | None:
    ref = repository.delivery_ref(webhook_id, delivery_id)

    def claim(tx: db.Tx) -> DeliveryRecord | None:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data:
            return None
        delivery = repository.delivery_from(delivery_id, data)
        now = datetime.now(UTC)
        if not lifecycle.can_attempt(delivery, now):
            return None
        claimed = lifecycle.begin_attempt(delivery, now, hold_seconds)
        tx.update(ref, {"in_flight_until": claimed.in_flight_until})
        return claimed

    return db.run_transaction(claim)


def _save(delivery: DeliveryRecord) -> None:
    db.set(repository.delivery_ref(delivery.webhook_id, delivery.id), repository.to_doc(delivery))


def attempt(webhook_id: str, delivery_id: str) -> Outcome:
    """One attempt at a queued delivery (see the module docstring)."""
    if not (db.is_valid_doc_id(webhook_id) and db.is_valid_doc_id(delivery_id)):
        return "done"
    settings = get_settings()
    delivery = _claim(webhook_id, delivery_id, settings.webhook_timeout_seconds + 30)
    if delivery is None:
        return "done"
    webhook = repository.load_webhook(webhook_id)
    now = datetime.now(UTC)
    if webhook is None or webhook.owner_id != delivery.owner_id:
        _save(lifecycle.give_up(delivery, now, "endpoint_deleted"))
        return "done"
    if webhook.status != "active" and delivery.event_type != TEST_EVENT:
        _save(lifecycle.give_up(delivery, now, "endpoint_disabled"))
        return "done"
    headers = signing_headers(webhook, delivery, now)
    try:
        response = outbound.post(
            webhook.url, delivery.payload.encode(), headers, timeout=settings.webhook_timeout_seconds
        )
    except outbound.OutboundRefused as refused:
        response = outbound.OutboundResponse(None, 0, error=f"refused: {refused.reason}")
    done = datetime.now(UTC)
    if response.ok:
        assert response.status is not None
        _save(
            lifecycle.attempt_succeeded(
                delivery,
                done,
                status=response.status,
                latency_ms=response.latency_ms,
                excerpt=response.excerpt,
            )
        )
        _endpoint_healthy(webhook)
        return "done"
    error = response.error or f"http_{response.status}"
    failed = lifecycle.attempt_failed(
        delivery,
        done,
        status=response.status,
        latency_ms=response.latency_ms,
        error=error,
        excerpt=response.excerpt,
    )
    if delivery.event_type == TEST_EVENT:  # a test is attempted once, while its caller waits
        _save(lifecycle.give_up(failed, done, error))
        return "done"
    _save(failed)
    _endpoint_failed(webhook, done)
    return "retry"


def signing_headers(webhook: WebhookRecord, delivery: DeliveryRecord, now: datetime) -> dict[str, str]:
    from shared.webhooks.signing import signature_headers

    return signature_headers(delivery.id, delivery.payload, signing_secrets(webhook, now), now)


def dead_lettered(webhook_id: str, delivery_id: str) -> None:
    """A round of attempts ran out: start another inside the retry window, else give up."""
    delivery = repository.load_delivery(webhook_id, delivery_id)
    if delivery is None or delivery.status not in lifecycle.OPEN:
        return
    now = datetime.now(UTC)
    window = timedelta(seconds=get_settings().webhook_retry_window_seconds)
    if now - delivery.round_started_at < window:
        from shared.webhooks.events import queue

        restarted = lifecycle.restart_round(delivery, now)
        _save(restarted)
        queue([restarted])
        return
    _save(lifecycle.give_up(delivery, now, "retries_exhausted"))


def _endpoint_healthy(webhook: WebhookRecord) -> None:
    if webhook.failing_since is not None:
        db.update(repository.webhook_ref(webhook.id), {"failing_since": None})


def _endpoint_failed(webhook: WebhookRecord, now: datetime) -> None:
    ref = repository.webhook_ref(webhook.id)
    disable_after = timedelta(seconds=get_settings().webhook_disable_after_seconds)

    def record(tx: db.Tx) -> WebhookRecord | None:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data:
            return None
        current = repository.webhook_from(webhook.id, data)
        if current.status != "active":
            return None
        if current.failing_since is None:
            tx.update(ref, {"failing_since": now})
            return None
        if now - current.failing_since < disable_after:
            return None
        changes = {"status": "disabled", "disabled_reason": "failing", "disabled_at": now, "updated_at": now}
        tx.update(ref, changes)
        return current.model_copy(update=changes)

    disabled = db.run_transaction(record)
    if disabled is not None:
        _log.warning("webhook endpoint disabled after failing", extra={"webhook_id": webhook.id})
        _announce_disabled(disabled)


def _announce_disabled(webhook: WebhookRecord) -> None:
    from shared.webhooks.events import Event, emit, event_id

    assert webhook.disabled_at is not None
    event = Event(
        event_id("webhook.disabled", webhook.id, webhook.disabled_at.isoformat()),
        "webhook.disabled",
        webhook.owner_id,
        {"webhook": webhook.public().model_dump(mode="json")},
        webhook.disabled_at,
    )
    others = [w for w in repository.subscribers(webhook.owner_id, "webhook.disabled") if w.id != webhook.id]
    try:
        emit(event, to=others)
    except Exception:
        _log.warning("could not announce a disabled webhook", extra={"webhook_id": webhook.id}, exc_info=True)
