"""``mode: "async"``: record the run ``queued`` and hand it to the worker through Pub/Sub.

The request waits until Pub/Sub has accepted the message. If it does not (in
``RUN_PUBLISH_TIMEOUT_SECONDS``), the run and its idempotency key are withdrawn and the caller
gets 503, so nothing stays queued without a message and a retry can start afresh.

If the request dies between storing the run and publishing (instance killed), the run keeps
``publish_pending``: a retry with the same idempotency key republishes it at once, and
``GET /runs/{id}`` republishes it once it is ``RUN_REPUBLISH_AFTER_SECONDS`` old. A message
sent twice (the first request was only slow) is harmless: the worker's claim runs it once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared import db
from shared.errors import ServiceUnavailable, ValidationFailed
from shared.runs import repository
from shared.runs.queue import RunMessage, publish_run
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunCreate, RunRecord, RunSource
    from shared.runs.service import StartedRun

_log = logging.getLogger(__name__)


def check_session(session_id: str, owner_id: str, agent_id: str) -> None:
    """The session must be the caller's (else 404) and belong to the run's agent (else 422)."""
    from shared.sessions.repository import get_session

    session = get_session(session_id, owner_id)
    if session.agent_id != agent_id:
        raise ValidationFailed.field("session_id", "the session belongs to a different agent")


def enqueue(
    principal: Principal,
    body: RunCreate,
    idempotency_key: str | None,
    *,
    schedule_id: str | None = None,
    source: RunSource = "api",
) -> StartedRun:
    """Validate, store the run ``queued`` and publish its message (see the module docstring)."""
    from shared.agents.repository import runnable_agent
    from shared.runs.service import StartedRun, listing_of, new_run_record

    agent = runnable_agent(body.agent_id, principal)
    if body.session_id is not None:
        check_session(body.session_id, principal.user_id, agent.id)
    record = new_run_record(
        owner_id=principal.user_id,
        agent_id=agent.id,
        agent_version=agent.version,
        body=body,
        status="queued",
        idempotency_key=idempotency_key,
        listing_id=listing_of(agent),
        source=source,
    ).model_copy(update={"publish_pending": True, "schedule_id": schedule_id})
    stored, created = repository.create_run(record)
    if not created:
        return StartedRun(republish_if_pending(stored, min_age_seconds=0.0), created=False)
    try:
        publish_run(RunMessage(stored.id, ordering_key=stored.session_id or ""))
    except ServiceUnavailable:
        withdraw(stored)
        raise
    return StartedRun(mark_published(stored), created=True)


def mark_published(record: RunRecord) -> RunRecord:
    fields = {"publish_pending": False, "published_at": datetime.now(UTC)}
    try:
        repository.update_run(record.id, fields)
    except Exception:
        # The message is out; at worst a later GET sends it again (the claim dedupes).
        _log.warning("could not mark a run published", extra={"run_id": record.id}, exc_info=True)
        return record
    return record.model_copy(update=fields)


def republish_if_pending(record: RunRecord, *, min_age_seconds: float | None = None) -> RunRecord:
    """Send the message of a queued async run whose request died before publishing it.

    ``min_age_seconds`` None = ``RUN_REPUBLISH_AFTER_SECONDS`` (GET /runs/{id}: a younger run's
    request may still be publishing; a failure is logged, the read still answers). 0 = an
    idempotent retry of that request: publish now; ``ServiceUnavailable`` if Pub/Sub refuses.
    """
    if record.status != "queued" or not record.publish_pending:
        return record
    retrying = min_age_seconds == 0.0
    if min_age_seconds is None:
        min_age_seconds = get_settings().run_republish_after_seconds
    if (datetime.now(UTC) - record.created_at).total_seconds() < min_age_seconds:
        return record
    _log.warning("republishing a run whose message was never sent", extra={"run_id": record.id})
    try:
        publish_run(RunMessage(record.id, ordering_key=record.session_id or ""))
    except ServiceUnavailable:
        if retrying:
            raise
        _log.warning("could not republish a run", extra={"run_id": record.id})
        return record
    return mark_published(record)


def withdraw(record: RunRecord) -> None:
    """Remove a queued run whose message was never accepted (and its idempotency key).

    If the message did get through after all and a worker claimed the run, it is left alone.
    """
    ref = repository.run_ref(record.id)
    key_ref = (
        repository.idempotency_ref(record.owner_id, record.idempotency_key)
        if record.idempotency_key
        else None
    )

    def remove(tx: db.Tx) -> None:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("status") != "queued":
            return
        tx.delete(ref)
        if key_ref is not None:
            tx.delete(key_ref)

    try:
        db.run_transaction(remove)
    except Exception:
        # Could not delete: fail it instead, so it is never left queued without a message.
        _log.warning("could not withdraw an unpublished run", extra={"run_id": record.id}, exc_info=True)
        from shared.runs.claim import close_run

        try:
            close_run(
                record.id,
                "failed",
                {"code": "enqueue_failed", "message": "the run could not be queued"},
            )
        except Exception:
            _log.exception("an unpublished run is still queued", extra={"run_id": record.id})
