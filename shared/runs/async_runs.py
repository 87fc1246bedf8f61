"""``mode: "async"``: record the run ``queued`` and hand it to the worker through Pub/Sub.

The request waits until Pub/Sub has accepted the message. If it does not (in
``RUN_PUBLISH_TIMEOUT_SECONDS``), the run and its idempotency key are withdrawn and the caller
gets 503, so nothing stays queued without a message and a retry can start afresh.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared import db
from shared.errors import ServiceUnavailable, ValidationFailed
from shared.runs import repository
from shared.runs.queue import RunMessage, publish_run

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.runs.schemas import RunCreate, RunRecord
    from shared.runs.service import StartedRun

_log = logging.getLogger(__name__)


def check_session(session_id: str, owner_id: str, agent_id: str) -> None:
    """The session must be the caller's (else 404) and belong to the run's agent (else 422)."""
    from shared.sessions.repository import get_session

    session = get_session(session_id, owner_id)
    if session.agent_id != agent_id:
        raise ValidationFailed.field("session_id", "the session belongs to a different agent")


def enqueue(principal: Principal, body: RunCreate, idempotency_key: str | None) -> StartedRun:
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
    )
    stored, created = repository.create_run(record)
    if not created:
        return StartedRun(stored, created=False)
    try:
        publish_run(RunMessage(stored.id, ordering_key=stored.session_id or ""))
    except ServiceUnavailable:
        withdraw(stored)
        raise
    return StartedRun(stored, created=True)


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
