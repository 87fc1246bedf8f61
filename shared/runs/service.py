"""The run lifecycle behind ``POST /runs`` (sync and stream), ``GET /runs`` and ``GET /runs/{id}``.

``start_run`` validates and records a run (idempotently) and takes the session's lease;
``execute_run`` then executes it with the shared execution core, storing its events and
finishing its record, session history and lease whatever happens (also when the client goes
away mid-stream). The async worker reuses ``execute_run`` for queued runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.errors import ValidationFailed
from shared.runs import repository
from shared.runs.leases import new_lease
from shared.runs.rate_limit import consume_run_quota

# The execution path lives in shared.runs.runner; re-exported for callers of this module.
from shared.runs.runner import StreamItem as StreamItem
from shared.runs.runner import execute_run as execute_run
from shared.runs.schemas import RunCreate, RunPage, RunPublic, RunRecord, RunSource
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.agents.definition import AgentDefinition
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

_log = logging.getLogger(__name__)


@dataclass
class StartedRun:
    record: RunRecord
    created: bool
    definition: AgentDefinition | None = None
    session_revision: int | None = None


def _request_hash(owner_id: str, body: RunCreate) -> str:
    payload = body.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(f"{owner_id}|{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()


def _idempotency_key(body: RunCreate, header_key: str | None) -> str | None:
    if body.idempotency_key and header_key and body.idempotency_key != header_key:
        raise ValidationFailed.field("idempotency_key", "differs from the Idempotency-Key header")
    key = body.idempotency_key or header_key
    if key is not None and len(key) > 200:
        raise ValidationFailed.field("idempotency_key", "at most 200 characters")
    return key


def new_run_record(
    *,
    owner_id: str,
    agent_id: str,
    agent_version: int,
    body: RunCreate,
    status: str,
    idempotency_key: str | None,
    run_id: str | None = None,
    listing_id: str | None = None,
    source: RunSource = "api",
) -> RunRecord:
    now = datetime.now(UTC)
    running = status == "running"
    # A sync/stream run is executed by the request that creates it: it holds a lease from the
    # start, renewed while it works, so the sweep can tell when its instance died.
    lease = new_lease() if running else {}
    return RunRecord(
        id=run_id or uuid.uuid4().hex,
        agent_id=agent_id,
        agent_version=agent_version,
        session_id=body.session_id,
        owner_id=owner_id,
        mode=body.mode,
        status=status,  # type: ignore[arg-type]
        input=body.model_dump(mode="json")["input"],
        created_at=now,
        started_at=now if running else None,
        attempts=1 if running else 0,
        limits=body.limits,
        idempotency_key=idempotency_key,
        request_hash=_request_hash(owner_id, body),
        listing_id=listing_id,
        source=source,
        **lease,
    )


def listing_of(agent: AgentRecord) -> str:
    """The listing an agent record was installed from ("" if none), for ``new_run_record``."""
    return agent.source.listing_id if agent.source is not None else ""


def _checked_draft(body: RunCreate, agent: AgentRecord, principal: Principal) -> AgentDefinition:
    """The unsaved definition a draft run tries: judged as ``PUT /agents/{id}`` would judge it
    (every error at once, located under ``draft``); sync/stream runs without a session only
    (docs/api-decisions/playground-drafts.md)."""
    from shared.agents.validation import definition_errors

    assert body.draft is not None
    errors = [
        {**e, "loc": f"draft.{e['loc']}"} for e in definition_errors(body.draft, principal, agent_id=agent.id)
    ]
    if body.session_id is not None:
        errors.append({"loc": "session_id", "message": "a draft run has no session", "type": "value_error"})
    if errors:
        raise ValidationFailed(
            "invalid draft: " + ", ".join(e["loc"] for e in errors[:5]), details={"fields": errors}
        )
    return body.draft


def enqueue_async(
    principal: Principal,
    body: RunCreate,
    idempotency_key: str | None,
    *,
    schedule_id: str | None = None,
    source: RunSource = "api",
) -> StartedRun:
    """``mode: "async"``: a queued record + its Pub/Sub message (``shared.runs.async_runs``)."""
    from shared.runs.async_runs import enqueue

    return enqueue(principal, body, idempotency_key, schedule_id=schedule_id, source=source)


def start_run(
    principal: Principal,
    body: RunCreate,
    *,
    header_key: str | None = None,
    schedule_id: str | None = None,
    source: RunSource = "api",
) -> StartedRun:
    """Validate and record a sync/stream run (``running``), holding its session's lease.

    A retry with the same idempotency key returns the first run (``created`` False) and
    starts nothing. Nothing is written when validation fails (404 agent/session, 409 busy
    session, 422).
    """
    from shared.agents.repository import runnable_agent
    from shared.sessions.repository import acquire_lease, release_lease

    if body.draft is not None and body.mode == "async":
        raise ValidationFailed.field("mode", "a draft runs sync or stream (it is not stored for a worker)")
    key = _idempotency_key(body, header_key)
    if key is not None:
        existing = repository.find_idempotent_run(
            principal.user_id, key, _request_hash(principal.user_id, body)
        )
        if existing is not None:
            if existing.publish_pending:
                from shared.runs.async_runs import republish_if_pending

                existing = republish_if_pending(existing, min_age_seconds=0.0)
            return StartedRun(existing, created=False)
    # Every mode counts against the per-user limit; idempotent retries above do not.
    consume_run_quota(principal.user_id)
    if body.mode == "async":
        return enqueue_async(principal, body, key, schedule_id=schedule_id, source=source)
    agent = runnable_agent(body.agent_id, principal)
    definition = agent.definition if body.draft is None else _checked_draft(body, agent, principal)
    record = new_run_record(
        owner_id=principal.user_id,
        agent_id=agent.id,
        agent_version=agent.version,
        body=body,
        status="running",
        idempotency_key=key,
        listing_id=listing_of(agent),
        source=source,
    )
    if body.draft is not None:
        record.draft = True
        record.draft_definition = definition.model_dump(mode="json")
    revision: int | None = None
    if body.session_id is not None:
        lease_seconds = max(
            get_settings().session_lease_seconds, (agent.definition.limits.timeout_seconds or 0) + 60
        )
        session = acquire_lease(body.session_id, principal.user_id, agent.id, record.id, lease_seconds)
        revision = session.revision
    try:
        stored, created = repository.create_run(record)
    except BaseException:
        if body.session_id is not None:
            release_lease(body.session_id, record.id)
        raise
    if not created and body.session_id is not None:
        release_lease(body.session_id, record.id)
    return StartedRun(stored, created, definition if created else None, revision)


# -- sync / read -----------------------------------------------------------------------------


def run_sync(started: StartedRun, *, resume: bool = False) -> RunPublic:
    """Execute (``resume``: continue) a started run until it ends or pauses, and return it."""
    from shared import aio

    if not started.created:
        return started.record.public()

    async def drain() -> RunPublic:
        final: RunPublic | None = None
        async for item in execute_run(
            started.record,
            definition=started.definition,
            session_revision=started.session_revision,
            stream=False,
            event_start=None if resume else 0,
            resume=resume,
        ):
            if item.type in ("run.completed", "run.failed", "run.requires_action"):
                final = RunPublic.model_validate(item.data["run"])
        return (
            final
            if final is not None
            else repository.get_run(started.record.id, started.record.owner_id).public()
        )

    return aio.run(drain())


def get(principal: Principal, run_id: str) -> RunPublic:
    record = repository.get_run_for(principal, run_id)
    if record.publish_pending:
        from shared.runs.async_runs import republish_if_pending

        record = republish_if_pending(record)
    return record.public()


def list_mine(
    principal: Principal, *, agent_id: str | None, status: str | None, limit: int, cursor: str | None
) -> RunPage:
    if agent_id is not None:
        principal.require_agent(agent_id)
    records, next_cursor = repository.list_runs(
        principal.user_id,
        agent_id=agent_id,
        status=status,
        limit=limit,
        cursor=cursor,
        agent_ids=principal.agent_ids,
    )
    return RunPage(items=[r.public() for r in records], next_cursor=next_cursor)
