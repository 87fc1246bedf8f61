"""Stored endpoints ``webhooks/{id}`` and their delivery log ``webhooks/{id}/deliveries/{event_id}``.

Owner-only: anyone else's endpoint is a 404. A delivery's id is its event's id, so one event
reaches one endpoint at most once however often the event is emitted.
"""

from __future__ import annotations

from typing import Any

from shared import db
from shared.errors import NotFound
from shared.pagination import newest_first
from shared.webhooks.schemas import DeliveryRecord, WebhookRecord

WEBHOOKS = "webhooks"
DELIVERIES = "deliveries"


def webhook_ref(webhook_id: str) -> Any:
    return db.collection(WEBHOOKS).document(webhook_id)


def delivery_ref(webhook_id: str, delivery_id: str) -> Any:
    return webhook_ref(webhook_id).collection(DELIVERIES).document(delivery_id)


def not_found(webhook_id: str) -> NotFound:
    return NotFound(f"webhook '{webhook_id}' not found", details={"webhook_id": webhook_id})


def to_doc(record: WebhookRecord | DeliveryRecord) -> dict[str, Any]:
    return record.model_dump(mode="python", exclude={"id"})


def webhook_from(doc_id: str, data: dict[str, Any]) -> WebhookRecord:
    return WebhookRecord.model_validate({**data, "id": doc_id})


def delivery_from(doc_id: str, data: dict[str, Any]) -> DeliveryRecord:
    return DeliveryRecord.model_validate({**data, "id": doc_id})


def load_webhook(webhook_id: str) -> WebhookRecord | None:
    return db.load(WEBHOOKS, webhook_id, WebhookRecord)


def get_webhook(webhook_id: str, owner_id: str) -> WebhookRecord:
    record = load_webhook(webhook_id)
    if record is None or record.owner_id != owner_id:
        raise not_found(webhook_id)
    return record


def load_delivery(webhook_id: str, delivery_id: str) -> DeliveryRecord | None:
    if not (db.is_valid_doc_id(webhook_id) and db.is_valid_doc_id(delivery_id)):
        return None
    snap = db.get(delivery_ref(webhook_id, delivery_id))
    data = snap.to_dict() if snap.exists else None
    return delivery_from(delivery_id, data) if data else None


def list_webhooks(owner_id: str, *, limit: int, cursor: str | None) -> tuple[list[WebhookRecord], str | None]:
    return newest_first(
        db.collection(WEBHOOKS),
        equals={"owner_id": owner_id},
        limit=limit,
        cursor=cursor,
        parse=webhook_from,
        position=lambda r: (r.created_at, r.id),
    )


def count_webhooks(owner_id: str) -> int:
    return db.count_owned(WEBHOOKS, owner_id)


def subscribers(owner_id: str, event_type: str) -> list[WebhookRecord]:
    """The owner's active endpoints subscribed to ``event_type`` (one indexed query)."""
    from google.cloud.firestore import FieldFilter

    query: Any = db.collection(WEBHOOKS)
    query = (
        query.where(filter=FieldFilter("owner_id", "==", owner_id))
        .where(filter=FieldFilter("status", "==", "active"))
        .where(filter=FieldFilter("events", "array_contains", event_type))
    )
    return [webhook_from(s.id, s.to_dict() or {}) for s in db.query(query.limit(100))]


def list_deliveries(
    webhook_id: str, *, limit: int, cursor: str | None
) -> tuple[list[DeliveryRecord], str | None]:
    return newest_first(
        webhook_ref(webhook_id).collection(DELIVERIES),
        equals={},
        limit=limit,
        cursor=cursor,
        parse=delivery_from,
        position=lambda r: (r.created_at, r.id),
    )


def delete_webhook(webhook_id: str) -> None:
    """The endpoint and (in pages) its delivery log."""
    db.delete(webhook_ref(webhook_id))
    log: Any = webhook_ref(webhook_id).collection(DELIVERIES)
    while True:
        snaps = db.query(log.limit(200))
        if not snaps:
            return
        refs = [s.reference for s in snaps]

        def remove(batch: db.CountingWrites, refs: list[Any] = refs) -> None:
            for ref in refs:
                batch.delete(ref)

        db.commit_batch(remove)
        if len(snaps) < 200:
            return
