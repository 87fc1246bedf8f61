"""Stored schedules ``schedules/{id}``: owner-only (anyone else gets 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import db
from shared.errors import NotFound
from shared.pagination import newest_first
from shared.schedules.schemas import ScheduleRecord

SCHEDULES = "schedules"


def schedule_ref(schedule_id: str) -> Any:
    return db.collection(SCHEDULES).document(schedule_id)


def not_found(schedule_id: str) -> NotFound:
    return NotFound(f"schedule '{schedule_id}' not found", details={"schedule_id": schedule_id})


def to_doc(record: ScheduleRecord) -> dict[str, Any]:
    return record.model_dump(mode="python", exclude={"id"})


def from_doc(doc_id: str, data: dict[str, Any]) -> ScheduleRecord:
    return ScheduleRecord.model_validate({**data, "id": doc_id})


def load(schedule_id: str) -> ScheduleRecord | None:
    return db.load(SCHEDULES, schedule_id, ScheduleRecord)


def get(schedule_id: str, owner_id: str) -> ScheduleRecord:
    record = load(schedule_id)
    if record is None or record.owner_id != owner_id:
        raise not_found(schedule_id)
    return record


def list_mine(
    owner_id: str, *, limit: int, cursor: str | None, agent_ids: frozenset[str] | None = None
) -> tuple[list[ScheduleRecord], str | None]:
    """The owner's schedules, newest first; ``agent_ids``: only those of these agents (a token
    restricted to them; index owner_id, agent_id, created_at desc)."""
    return newest_first(
        db.collection(SCHEDULES),
        equals={"owner_id": owner_id},
        limit=limit,
        cursor=cursor,
        parse=from_doc,
        position=lambda r: (r.created_at, r.id),
        one_of=("agent_id", sorted(agent_ids)) if agent_ids is not None else None,
    )


def count_mine(owner_id: str) -> int:
    return db.count_owned(SCHEDULES, owner_id)


def due(now: datetime, limit: int) -> list[ScheduleRecord]:
    """Active schedules whose next occurrence is not after ``now``, oldest first: the tick's
    one query (index ``status, next_run_at``)."""
    from google.cloud.firestore import FieldFilter, Query

    query: Any = db.collection(SCHEDULES)
    query = (
        query.where(filter=FieldFilter("status", "==", "active"))
        .where(filter=FieldFilter("next_run_at", "<=", now))
        .order_by("next_run_at", direction=Query.ASCENDING)
        .limit(limit)
    )
    return [from_doc(s.id, s.to_dict() or {}) for s in db.query(query)]


def transition(schedule_id: str, change: Any) -> ScheduleRecord | None:
    """Apply ``change(record) -> record | None`` in a transaction (None: leave it)."""
    ref = schedule_ref(schedule_id)

    def apply(tx: db.Tx) -> ScheduleRecord | None:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data:
            return None
        updated = change(from_doc(schedule_id, data))
        if updated is not None:
            tx.set(ref, to_doc(updated))
        return updated

    return db.run_transaction(apply)
