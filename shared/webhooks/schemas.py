"""Webhook schemas: ``WebhookCreate``/``WebhookUpdate`` (requests), ``WebhookPublic`` (what the
API shows), ``WebhookRecord`` (stored, with the signing secrets), and the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EventType = Literal[
    "run.completed",
    "run.failed",
    "run.cancelled",
    "run.requires_action",
    "batch.completed",
    "schedule.paused",
    "webhook.disabled",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # pyright: ignore[reportAttributeAccessIssue]
# Sent only by POST /webhooks/{id}/test, to that endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"
WebhookStatus = Literal["active", "disabled"]
DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed"]


def _unique_events(value: list[EventType] | None) -> list[EventType] | None:
    if value is not None and len(set(value)) != len(value):
        raise ValueError("events must not repeat")
    return value


class WebhookCreate(BaseModel):
    """``POST /webhooks``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="https URL receiving the deliveries")
    events: list[EventType] = Field(
        min_length=1, max_length=len(EVENT_TYPES), json_schema_extra={"uniqueItems": True}
    )
    description: str = Field(default="", max_length=500)

    _events = field_validator("events")(_unique_events)


class WebhookUpdate(BaseModel):
    """``PATCH /webhooks/{id}``: any subset; ``enabled: true`` re-enables a disabled endpoint."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EVENT_TYPES), json_schema_extra={"uniqueItems": True}
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    _events = field_validator("events")(_unique_events)


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[EventType]
    description: str = ""
    status: WebhookStatus = "active"
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    # The first failed attempt of the current unbroken run of failures (None when healthy).
    failing_since: datetime | None = None
    secret_rotated_at: datetime | None = None
    # Until then deliveries are also signed with the secret before the last rotation.
    previous_secret_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WebhookRecord(WebhookPublic):
    model_config = ConfigDict(extra="ignore")

    owner_id: str
    secret: str
    previous_secret: str | None = None

    def public(self) -> WebhookPublic:
        return WebhookPublic.model_validate(self.model_dump(include=set(WebhookPublic.model_fields)))


class WebhookCreated(BaseModel):
    """The new endpoint and its signing secret (shown only here and on rotation)."""

    webhook: WebhookPublic
    secret: str = Field(description="Standard Webhooks secret, `whsec_<base64>`")


class WebhookPage(BaseModel):
    items: list[WebhookPublic]
    next_cursor: str | None = None


class DeliveryPublic(BaseModel):
    """One event sent (or being sent) to one endpoint."""

    id: str = Field(description="Also the `webhook-id` header: stable across retries and redeliveries")
    webhook_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_response_code: int | None = None
    last_latency_ms: int | None = None
    last_error: str | None = None
    last_response_excerpt: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None = None


class DeliveryRecord(DeliveryPublic):
    model_config = ConfigDict(extra="ignore")

    owner_id: str
    # The exact JSON body sent on every attempt: {type, timestamp, data}.
    payload: str
    # Each redelivery starts a new round; dead-lettered rounds are restarted within the window.
    round: int = 1
    round_started_at: datetime
    in_flight_until: datetime | None = None
    expires_at: datetime | None = None

    def public(self) -> DeliveryPublic:
        return DeliveryPublic.model_validate(self.model_dump(include=set(DeliveryPublic.model_fields)))


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None = None
