"""Run requests published straight to the run-requests topic by trusted publishers (IAM).

The message data is ``{agent_id, input, owner_id, session_id?, idempotency_key?, limits?}``.
The worker turns it into a run record owned by ``owner_id``, exactly once per request:
keyed by the idempotency key (the same key as ``POST /runs`` uses for that owner), else by
the Pub/Sub message id (redeliveries of one message carry the same id).

The owner must be an active user and may run only their own agents, as over HTTP. A request
naming no usable owner is dropped (logged); any other invalid request is recorded as a
``failed`` run the owner can see (``invalid_input``, ``not_found`` ...).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shared import db
from shared.errors import Conflict, ServiceError
from shared.runs import repository
from shared.runs.schemas import RunCreate, RunRecord

_log = logging.getLogger(__name__)

_FIELDS = ("agent_id", "input", "session_id", "idempotency_key", "limits")


def message_run_id(message_id: str) -> str:
    """The run id of a trusted request without an idempotency key (same message → same run)."""
    return "msg-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]


def create_trusted_run(payload: dict[str, Any], message_id: str) -> str | None:
    """The id of the (possibly just created) run for this request; None if it was dropped."""
    from shared.auth.principal import Principal
    from shared.auth.users import get_user

    owner_id = payload.get("owner_id")
    if not isinstance(owner_id, str) or not owner_id or len(owner_id) > 128 or "/" in owner_id:
        _log.warning("trusted run request without a valid owner dropped", extra={"message_id": message_id})
        return None
    user = get_user(owner_id)
    if user is None or not user.is_active:
        _log.warning("trusted run request for an unknown owner dropped", extra={"message_id": message_id})
        return None
    run_id = message_run_id(message_id)
    existing = repository.load_run(run_id)
    if existing is not None:
        return existing.id
    try:
        body = RunCreate.model_validate({**{k: payload[k] for k in _FIELDS if k in payload}, "mode": "async"})
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
        return _failed_run(run_id, owner_id, payload, "invalid_input", f"invalid run request: {fields}")
    principal = Principal(user_id=user.id, username=user.username, role=user.role)
    from shared.runs.service import listing_of, new_run_record

    key = body.idempotency_key
    try:
        from shared.agents.repository import runnable_agent

        agent = runnable_agent(body.agent_id, principal)
        if body.session_id is not None:
            from shared.runs.async_runs import check_session

            check_session(body.session_id, owner_id, agent.id)
    except ServiceError as exc:
        if exc.status == 503:
            raise
        return _failed_run(run_id, owner_id, payload, exc.error_code, exc.message)
    record = new_run_record(
        owner_id=owner_id,
        agent_id=agent.id,
        agent_version=agent.version,
        body=body,
        status="queued",
        idempotency_key=key,
        run_id=run_id,
        listing_id=listing_of(agent),
    )
    if key is not None:
        try:
            stored, _ = repository.create_run(record)
        except Conflict:
            _log.warning("trusted run request reused an idempotency key", extra={"message_id": message_id})
            return None
        return stored.id
    return _create_once(record)


def _create_once(record: RunRecord) -> str:
    from google.api_core import exceptions as gexc

    try:
        db.create(repository.run_ref(record.id), repository.to_doc(record))
    except gexc.AlreadyExists:
        pass  # a redelivery of the same message raced us: the same run
    return record.id


def _failed_run(run_id: str, owner_id: str, payload: dict[str, Any], code: str, message: str) -> str | None:
    """Record a request that cannot run, so its publisher and owner can see why."""
    from shared import aio
    from shared.runs.claim import announce_closed

    now = datetime.now(UTC)
    agent_id = payload.get("agent_id")
    raw_input = payload.get("input")
    record = RunRecord(
        id=run_id,
        agent_id=agent_id[:128] if isinstance(agent_id, str) else "",
        agent_version=0,
        owner_id=owner_id,
        mode="async",
        status="failed",
        input=raw_input[:1000] if isinstance(raw_input, str) else "",
        error={"code": code, "message": message},  # type: ignore[arg-type]
        created_at=now,
        finished_at=now,
    )
    _create_once(record)
    aio.run(announce_closed(record))
    # The run is already finished: nothing for the worker to claim.
    return None
