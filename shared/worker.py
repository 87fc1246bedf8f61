"""The Pub/Sub worker: executes async runs delivered on the run-requests topic.

Delivery is at least once and the answer decides what Pub/Sub does next: returning acks the
message; raising (``RetryLater``, or any error → HTTP 500) makes Pub/Sub redeliver it with
backoff, and after the subscription's maximum attempts move it to the dead-letter topic.

For each delivery:

1. Decode the pushed message (emulator push, Eventarc or an OIDC push subscription all arrive
   as a ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent). Undecodable → ack.
   A sweep message (attribute ``kind=sweep``, from Cloud Scheduler) runs the sweep instead
   (``shared.runs.sweep``: republish runs and batches whose request died) and is acked.
2. Find the run: ``{"run_id"}`` from ``POST /runs``/batches, or a trusted publisher's full
   request ``{agent_id, input, owner_id, session_id?, idempotency_key?}``, whose run record is
   created idempotently (keyed by the idempotency key, else by the message id).
3. Claim it (``shared.runs.claim``): finished or missing → ack; held by a live lease → wait
   until the holder proves alive (lease renewed → ack) or its lease expires (→ take over);
   too old (``RUN_MESSAGE_MAX_AGE_SECONDS``), cancelled, or out of attempts → close it, ack.
4. Execute it with the shared execution core, renewing the lease meanwhile. A transient
   failure (model rate limit/outage/timeout) hands the run back to ``queued`` and asks for
   redelivery; on the final attempt (``RUN_MAX_DELIVERY_ATTEMPTS``, counted on the run
   record since emulator pushes carry no ``deliveryAttempt``) the run ends ``failed``
   (``max_attempts_exceeded``) and the worker itself publishes the message to the dead-letter
   topic, then acks (if that publish fails it refuses, and the subscription's own
   dead-letter policy takes over). Permanent failures (agent gone, invalid input) end the
   run ``failed`` and ack.

A message arriving from the dead-letter topic (if a subscription forwards it here) closes
its run as ``failed`` unless a live worker still holds it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from shared.errors import Conflict, NotFound, ServiceError
from shared.runs import claim as claims
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.agents.definition import AgentDefinition
    from shared.runs.schemas import RunRecord

_log = logging.getLogger(__name__)

_FRACTION = re.compile(r"(\.\d{6})\d+")


class RetryLater(Exception):
    """Refuse the delivery so Pub/Sub redelivers it (with backoff)."""


@dataclass
class PushedMessage:
    message_id: str
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict[str, str])
    publish_time: datetime | None = None
    delivery_attempt: int | None = None
    topic: str | None = None

    def age_seconds(self, now: datetime) -> float:
        return (now - self.publish_time).total_seconds() if self.publish_time else 0.0


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def decode_event(event: Any) -> PushedMessage | None:
    """The Pub/Sub message inside a ``messagePublished`` CloudEvent (None if malformed)."""
    body: Any = event.data
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    envelope = cast(dict[str, Any], body)
    message = envelope.get("message")
    if not isinstance(message, dict):
        return None
    msg = cast(dict[str, Any], message)
    try:
        data = base64.b64decode(str(msg.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        return None
    attributes = cast(dict[str, Any], msg.get("attributes") or {})
    attempt = envelope.get("deliveryAttempt")
    source = str(event["source"] or "")
    return PushedMessage(
        message_id=str(msg.get("messageId") or msg.get("message_id") or event["id"]),
        data=data,
        attributes={str(k): str(v) for k, v in attributes.items()},
        publish_time=_parse_time(msg.get("publishTime") or msg.get("publish_time")),
        delivery_attempt=attempt if isinstance(attempt, int) and attempt > 0 else None,
        topic=source.rsplit("/topics/", 1)[1] if "/topics/" in source else None,
    )


def handle_run_event(event: Any) -> None:
    """The worker's entry point (``functions/worker/main.py``)."""
    message = decode_event(event)
    if message is None:
        _log.warning("undecodable run message dropped", extra={"event_id": event["id"]})
        return
    handle_message(message)


def handle_message(message: PushedMessage) -> None:
    settings = get_settings()
    if message.topic is not None and message.topic == settings.run_dead_letter_topic:
        _dead_lettered(message)
        return
    if message.topic is not None and message.topic == settings.run_results_topic:
        # A finished run (any mode): evals score their cases from here (shared.evals.scoring).
        from shared.evals.scoring import handle_result_message

        handle_result_message(message.data, message.attributes)
        return
    from shared.runs import sweep

    if sweep.is_sweep_message(message.attributes):
        _sweep(message)
        return
    run_id = _resolve_run(message)
    if run_id is None:
        return
    stale = message.age_seconds(datetime.now(UTC)) > settings.run_message_max_age_seconds
    claim = _claim_or_wait(run_id, stale=stale, delivery_attempt=message.delivery_attempt)
    _log.info(
        "run message claimed" if claim.kind == "claimed" else f"run message: {claim.kind}",
        extra={"run_id": run_id, "message_id": message.message_id, "attempt": claim.attempt},
    )
    if claim.kind == "closed" and claim.record is not None:
        _announce(claim.record)
    elif claim.kind == "claimed" and claim.record is not None and claim.token is not None:
        _execute(
            message,
            claim.record,
            claim.token,
            final_attempt=claim.final_attempt,
            first_claim=claim.first_claim,
        )


def _sweep(message: PushedMessage) -> None:
    """A scheduled sweep (``shared.runs.sweep``). Always acked: the next tick retries what failed."""
    from shared.runs import sweep

    try:
        sweep.sweep()
    except ServiceError:
        _log.warning("sweep failed; the next one retries", extra={"message_id": message.message_id})


# -- finding the run ------------------------------------------------------------------------


def _payload(message: PushedMessage) -> dict[str, Any] | None:
    if not message.data:
        return {"run_id": message.attributes["run_id"]} if message.attributes.get("run_id") else None
    try:
        value: Any = json.loads(message.data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _resolve_run(message: PushedMessage) -> str | None:
    payload = _payload(message)
    if payload is None:
        _log.warning("run message without a run dropped", extra={"message_id": message.message_id})
        return None
    run_id = payload.get("run_id")
    if isinstance(run_id, str) and run_id:
        return run_id
    from shared.runs.trusted import create_trusted_run

    return create_trusted_run(payload, message.message_id)


def _claim_or_wait(run_id: str, *, stale: bool, delivery_attempt: int | None) -> claims.Claim:
    """Claim the run; if a lease holds it, wait until the holder renews (alive) or lapses."""
    settings = get_settings()
    lease = float(settings.run_lease_seconds)
    # A live holder renews within lease/3; a dead one's lease lapses within `lease`.
    deadline = time.monotonic() + min(settings.run_duplicate_wait_seconds, lease + 1)
    first_seen: datetime | None = None
    while True:
        claim = claims.claim_run(
            run_id,
            lease_seconds=lease,
            max_attempts=settings.run_max_delivery_attempts,
            stale=stale,
            delivery_attempt=delivery_attempt,
        )
        if claim.kind != "busy":
            return claim
        if first_seen is None:
            first_seen = claim.lease_expires_at
        elif claim.lease_expires_at != first_seen:
            return claim  # renewed: a live worker has it, this delivery is a duplicate
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # No sign of life yet, but the lease is still valid: try again later.
            raise RetryLater(f"run {run_id} is leased by another worker")
        time.sleep(min(1.0, remaining))


def _dead_lettered(message: PushedMessage) -> None:
    payload = _payload(message)
    run_id = payload.get("run_id") if payload else None
    if not isinstance(run_id, str) or not run_id:
        _log.warning("dead-lettered run message", extra={"message_id": message.message_id})
        return
    settings = get_settings()
    closed = claims.close_run(
        run_id,
        "failed",
        claims.attempts_exceeded_error(settings.run_max_delivery_attempts, None),
        abandoned=True,
    )
    if closed is not None:
        _announce(closed)


# -- executing ------------------------------------------------------------------------------


def _announce(record: RunRecord) -> None:
    from shared import aio

    aio.run(claims.announce_closed(record))


def _fail(record: RunRecord, token: str, code: str, message: str) -> None:
    closed = claims.close_run(record.id, "failed", {"code": code, "message": message}, token=token)
    if closed is not None:
        _announce(closed)


def _definition(record: RunRecord) -> AgentDefinition | None:
    if record.draft_definition:
        return record.pinned_definition()
    try:
        return _version_definition(record.agent_id, record.agent_version)
    except NotFound:
        return None


@functools.lru_cache(maxsize=256)
def _version_definition(agent_id: str, version: int) -> AgentDefinition:
    """A pinned agent version's definition, cached: versions are immutable once written (an
    edit creates version n+1; deleting an agent keeps its versions), so an instance reads
    each at most once. Missing versions raise NotFound and are not cached."""
    from shared.agents.repository import get_agent_version

    return get_agent_version(agent_id, version).definition


def _hold_session(record: RunRecord) -> int | None:
    """Take the session's lease for this run, waiting a while for a run that holds it."""
    from shared.sessions.repository import acquire_lease

    assert record.session_id is not None
    settings = get_settings()
    deadline = time.monotonic() + settings.run_session_wait_seconds
    while True:
        try:
            session = acquire_lease(
                record.session_id,
                record.owner_id,
                record.agent_id,
                record.id,
                max(settings.session_lease_seconds, settings.run_lease_seconds),
            )
            return session.revision
        except Conflict:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _execute(
    message: PushedMessage, record: RunRecord, token: str, *, final_attempt: bool, first_claim: bool = False
) -> None:
    from shared import aio

    definition = _definition(record)
    if definition is None:
        _fail(record, token, "agent_not_found", "the agent version this run uses no longer exists")
        return
    revision: int | None = None
    if record.session_id is not None:
        try:
            revision = _hold_session(record)
        except NotFound:
            _fail(record, token, "session_not_found", "the run's session no longer exists")
            return
        except Conflict:
            busy = {"code": "session_busy", "message": "the session was busy"}
            _retry_or_give_up(message, record, token, busy, final_attempt)
            return
        except ServiceError as exc:  # 422: the session now belongs to another agent
            _fail(record, token, exc.error_code, exc.message)
            return
    transient = aio.run(_attempt(record, token, definition, revision, first_claim=first_claim))
    if transient is not None:
        _retry_or_give_up(message, record, token, transient, final_attempt)


def _retry_or_give_up(
    message: PushedMessage, record: RunRecord, token: str, error: dict[str, str], final_attempt: bool
) -> None:
    settings = get_settings()
    if final_attempt:
        closed = claims.close_run(
            record.id,
            "failed",
            claims.attempts_exceeded_error(settings.run_max_delivery_attempts, error),
            token=token,
        )
        if closed is not None:
            _announce(closed)
        # We dead-letter it ourselves and ack: the emulator never dead-letters on a subscription
        # with message ordering (and stalls it), and an Eventarc trigger may have no DLQ policy.
        if not _forward_to_dead_letter(message, record.id, error, record.attempts):
            raise RetryLater(f"run {record.id} failed its final attempt: {error['code']}")
        return
    claims.hand_back(record.id, token, error)
    raise RetryLater(f"run {record.id} will be retried: {error['code']}")


def _forward_to_dead_letter(
    message: PushedMessage, run_id: str, error: dict[str, str], attempts: int
) -> bool:
    """Publish a copy of the message to the dead-letter topic (False if that failed)."""
    from shared.clients import publisher, topic_path

    attributes = {
        **message.attributes,
        "run_id": run_id,
        "dead_letter_reason": "max_attempts_exceeded",
        "last_error": error.get("code", ""),
        "delivery_attempts": str(attempts),
        "source_message_id": message.message_id,
    }
    try:
        client: Any = publisher()
        future = client.publish(topic_path(get_settings().run_dead_letter_topic), message.data, **attributes)
        future.result(timeout=get_settings().run_publish_timeout_seconds)
    except Exception:
        _log.warning("could not dead-letter a run message", extra={"run_id": run_id}, exc_info=True)
        return False
    return True


async def _attempt(
    record: RunRecord,
    token: str,
    definition: AgentDefinition,
    session_revision: int | None,
    *,
    first_claim: bool = False,
) -> dict[str, str] | None:
    """Run one attempt; returns the transient error if it should be retried, else None.

    The runner renews the claim's lease meanwhile. A run that ran before (a retry, a takeover
    after a crash, a resume after a decision) continues from its stored conversation and after
    its last stored event.
    """
    from shared.runs import runner

    retry: dict[str, str] | None = None
    async for item in runner.execute_run(
        record,
        definition=definition,
        session_revision=session_revision,
        event_start=0 if first_claim else None,
        defer_transient=True,
        resume=not first_claim,
    ):
        if item.type == "run.attempt_failed":
            retry = dict(item.data["error"])
    return retry
