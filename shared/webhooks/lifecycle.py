"""The delivery lifecycle: every state change of a delivery is one of these transitions.

::

    pending ──attempt ok──▶ succeeded ──redeliver──▶ pending
       │  ▲                                            ▲
       │  └──────── (retrying: attempt failed) ◀──┐    │
       └──attempt failed──▶ retrying ──attempt ok─┘    │
                               │                       │
                               └──give up──▶ failed ───┘ (redeliver)

``pending`` and ``retrying`` are *open* (Pub/Sub still holds a message for them);
``succeeded`` and ``failed`` are *closed*. A transition that is not in ``_ALLOWED`` raises
``InvalidTransition``; callers run transitions inside a Firestore transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.webhooks.schemas import DeliveryRecord, DeliveryStatus

OPEN: frozenset[str] = frozenset({"pending", "retrying"})
CLOSED: frozenset[str] = frozenset({"succeeded", "failed"})
_ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "retrying", "failed"}),
    "retrying": frozenset({"succeeded", "retrying", "failed"}),
    "succeeded": frozenset({"pending"}),
    "failed": frozenset({"pending"}),
}
# Pub/Sub redelivers with exponential backoff from 10 s to 600 s (infra/pubsub.tf): the
# estimate shown as next_attempt_at.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 600
EXCERPT_CHARS = 500


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"delivery cannot go from {current} to {target}")
        self.current, self.target = current, target


def _move(delivery: DeliveryRecord, target: DeliveryStatus, now: datetime, **changes: Any) -> DeliveryRecord:
    if target not in _ALLOWED[delivery.status]:
        raise InvalidTransition(delivery.status, target)
    return delivery.model_copy(update={"status": target, "updated_at": now, **changes})


def retry_delay_seconds(attempts: int) -> int:
    """Pub/Sub's backoff before the attempt after ``attempts`` failed ones."""
    return min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))


def can_attempt(delivery: DeliveryRecord, now: datetime) -> bool:
    """Open and not being attempted by another delivery of the same message right now."""
    return delivery.status in OPEN and (delivery.in_flight_until is None or delivery.in_flight_until <= now)


def begin_attempt(delivery: DeliveryRecord, now: datetime, hold_seconds: float) -> DeliveryRecord:
    if delivery.status not in OPEN:
        raise InvalidTransition(delivery.status, "attempting")
    return delivery.model_copy(update={"in_flight_until": now + timedelta(seconds=hold_seconds)})


def _attempt_fields(
    now: datetime, status: int | None, latency_ms: int, error: str | None, excerpt: str
) -> dict[str, Any]:
    return {
        "last_attempt_at": now,
        "last_response_code": status,
        "last_latency_ms": latency_ms,
        "last_error": error,
        "last_response_excerpt": excerpt[:EXCERPT_CHARS] or None,
        "in_flight_until": None,
    }


def attempt_succeeded(
    delivery: DeliveryRecord, now: datetime, *, status: int, latency_ms: int, excerpt: str
) -> DeliveryRecord:
    return _move(
        delivery,
        "succeeded",
        now,
        attempts=delivery.attempts + 1,
        succeeded_at=now,
        next_attempt_at=None,
        **_attempt_fields(now, status, latency_ms, None, excerpt),
    )


def attempt_failed(
    delivery: DeliveryRecord,
    now: datetime,
    *,
    status: int | None,
    latency_ms: int,
    error: str,
    excerpt: str = "",
) -> DeliveryRecord:
    attempts = delivery.attempts + 1
    return _move(
        delivery,
        "retrying",
        now,
        attempts=attempts,
        next_attempt_at=now + timedelta(seconds=retry_delay_seconds(attempts)),
        **_attempt_fields(now, status, latency_ms, error, excerpt),
    )


def give_up(delivery: DeliveryRecord, now: datetime, reason: str) -> DeliveryRecord:
    return _move(delivery, "failed", now, last_error=reason, next_attempt_at=None, in_flight_until=None)


def redeliver(delivery: DeliveryRecord, now: datetime) -> DeliveryRecord:
    """Start a new round of attempts for a closed delivery (same id, same payload)."""
    return _move(
        delivery,
        "pending",
        now,
        round=delivery.round + 1,
        round_started_at=now,
        next_attempt_at=now,
        in_flight_until=None,
    )


def restart_round(delivery: DeliveryRecord, now: datetime) -> DeliveryRecord:
    """A dead-lettered round of an open delivery still inside its retry window: go on."""
    if delivery.status not in OPEN:
        raise InvalidTransition(delivery.status, "retrying")
    return delivery.model_copy(
        update={"round": delivery.round + 1, "updated_at": now, "in_flight_until": None}
    )
