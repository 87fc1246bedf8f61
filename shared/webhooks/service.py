"""The webhook endpoints API: create (secret shown once), list, show, update, delete, rotate
the secret, send a test event, the delivery log and redelivery. Owner-only (others: 404)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import db, outbound
from shared.errors import Conflict, NotFound
from shared.settings import get_settings
from shared.webhooks import lifecycle, repository
from shared.webhooks.schemas import (
    TEST_EVENT,
    DeliveryPage,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
    WebhookRecord,
    WebhookUpdate,
)
from shared.webhooks.signing import new_secret

if TYPE_CHECKING:
    from shared.auth.principal import Principal

SECRET_OVERLAP = timedelta(hours=24)


def create(principal: Principal, body: WebhookCreate) -> WebhookCreated:
    outbound.check_url(body.url)
    limit = get_settings().webhook_max_per_user
    if repository.count_webhooks(principal.user_id) >= limit:
        raise Conflict(f"at most {limit} webhook endpoints per user", code="webhook_limit_reached")
    now = datetime.now(UTC)
    record = WebhookRecord(
        id=uuid.uuid4().hex,
        url=body.url,
        events=body.events,
        description=body.description,
        created_at=now,
        updated_at=now,
        owner_id=principal.user_id,
        secret=new_secret(),
    )
    db.create(repository.webhook_ref(record.id), repository.to_doc(record))
    return WebhookCreated(webhook=record.public(), secret=record.secret)


def list_mine(principal: Principal, *, limit: int, cursor: str | None) -> WebhookPage:
    records, next_cursor = repository.list_webhooks(principal.user_id, limit=limit, cursor=cursor)
    return WebhookPage(items=[r.public() for r in records], next_cursor=next_cursor)


def get(principal: Principal, webhook_id: str) -> WebhookPublic:
    return repository.get_webhook(webhook_id, principal.user_id).public()


def _mutate(principal: Principal, webhook_id: str, change: Any) -> WebhookRecord:
    """Apply ``change(record, now) -> dict`` to the caller's endpoint in a transaction."""
    ref = repository.webhook_ref(webhook_id)
    if not db.is_valid_doc_id(webhook_id):
        raise repository.not_found(webhook_id)

    def apply(tx: db.Tx) -> WebhookRecord:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("owner_id") != principal.user_id:
            raise repository.not_found(webhook_id)
        record = repository.webhook_from(webhook_id, data)
        now = datetime.now(UTC)
        changes: dict[str, Any] = {**change(record, now), "updated_at": now}
        tx.update(ref, changes)
        return record.model_copy(update=changes)

    return db.run_transaction(apply)


def update(principal: Principal, webhook_id: str, body: WebhookUpdate) -> WebhookPublic:
    if body.url is not None:
        outbound.check_url(body.url)

    def change(record: WebhookRecord, now: datetime) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True, exclude={"enabled"}, exclude_none=True)
        if body.enabled is True and record.status == "disabled":
            changes.update(status="active", disabled_reason=None, disabled_at=None, failing_since=None)
        elif body.enabled is False and record.status == "active":
            changes.update(status="disabled", disabled_reason="by_owner", disabled_at=now)
        return changes

    return _mutate(principal, webhook_id, change).public()


def delete(principal: Principal, webhook_id: str) -> None:
    repository.get_webhook(webhook_id, principal.user_id)
    repository.delete_webhook(webhook_id)


def rotate_secret(principal: Principal, webhook_id: str) -> WebhookCreated:
    """A new secret; the one it replaces keeps signing (alongside) for 24 hours."""
    secret = new_secret()

    def change(record: WebhookRecord, now: datetime) -> dict[str, Any]:
        return {
            "secret": secret,
            "previous_secret": record.secret,
            "previous_secret_expires_at": now + SECRET_OVERLAP,
            "secret_rotated_at": now,
        }

    return WebhookCreated(webhook=_mutate(principal, webhook_id, change).public(), secret=secret)


def send_test(principal: Principal, webhook_id: str) -> DeliveryPublic:
    """Send a ``webhook.test`` event to the endpoint now and report the attempt."""
    from shared.webhooks.events import Event, event_id, new_delivery
    from shared.webhooks.sender import attempt

    webhook = repository.get_webhook(webhook_id, principal.user_id)
    now = datetime.now(UTC)
    event = Event(
        event_id(TEST_EVENT, webhook.id, uuid.uuid4().hex),
        TEST_EVENT,
        principal.user_id,
        {"webhook_id": webhook.id, "message": "a test event from the agents service"},
        now,
    )
    delivery = new_delivery(event, webhook, now)
    db.create(repository.delivery_ref(webhook.id, delivery.id), repository.to_doc(delivery))
    attempt(webhook.id, delivery.id)
    stored = repository.load_delivery(webhook.id, delivery.id)
    return (stored or delivery).public()


def deliveries(principal: Principal, webhook_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
    repository.get_webhook(webhook_id, principal.user_id)
    records, next_cursor = repository.list_deliveries(webhook_id, limit=limit, cursor=cursor)
    return DeliveryPage(items=[r.public() for r in records], next_cursor=next_cursor)


def redeliver(principal: Principal, webhook_id: str, delivery_id: str) -> DeliveryPublic:
    """Send a closed delivery again (same ``webhook-id`` and body); 409 while it is retrying."""
    from shared.webhooks.events import queue

    repository.get_webhook(webhook_id, principal.user_id)
    ref = repository.delivery_ref(webhook_id, delivery_id) if db.is_valid_doc_id(delivery_id) else None
    if ref is None:
        raise NotFound(f"delivery '{delivery_id}' not found")

    def reopen(tx: db.Tx) -> Any:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("owner_id") != principal.user_id:
            raise NotFound(f"delivery '{delivery_id}' not found")
        delivery = repository.delivery_from(delivery_id, data)
        if delivery.status == "pending":  # not attempted yet in this round: queue it (again)
            return delivery
        try:
            reopened = lifecycle.redeliver(delivery, datetime.now(UTC))
        except lifecycle.InvalidTransition:
            raise Conflict("the delivery is still being attempted", code="delivery_in_progress") from None
        tx.set(ref, repository.to_doc(reopened))
        return reopened

    reopened = db.run_transaction(reopen)
    queue([reopened])
    return reopened.public()
