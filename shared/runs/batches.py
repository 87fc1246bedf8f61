"""Batches: one async run per input, fanned out over Pub/Sub, with live counts.

``batches/{id}`` stores what the batch *is* (owner, agent version, total, idempotency); its
runs are ordinary async runs with ids ``<batch_id>-<index>`` and ``batch_id`` set, so a
retried create (same idempotency key) finds the same runs and never duplicates one.

Counts are not stored: ``GET /batches/{id}`` asks Firestore for ``count()`` aggregations
(``batch_id ==`` and ``status ==``, served by single-field index merging) and a ``sum()`` of
``cost_usd`` — 5 aggregation reads, always exact, nothing to keep in step with status changes.
``queued`` = total - the others (runs not yet created count as queued).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import db, idempotency
from shared.agents.definition import Limits
from shared.errors import BadRequest, NotFound, ValidationFailed
from shared.runs import repository
from shared.runs.schemas import MAX_TEXT_CHARS, RunCreate, RunInput, RunPage, RunRecord

if TYPE_CHECKING:
    from shared.auth.principal import Principal

_log = logging.getLogger(__name__)

BATCHES = "batches"
MAX_INPUTS = 1000
_IDEMPOTENCY_SCOPE = "batches.create"
_WRITE_CHUNK = 200
_COUNTED = ("running", "succeeded", "failed", "cancelled", "requires_action")

BatchStatus = Literal["queued", "running", "completed"]


class BatchCreate(BaseModel):
    """``POST /batches``."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    inputs: list[RunInput] = Field(min_length=1, max_length=MAX_INPUTS)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    limits: Limits | None = Field(default=None, description="Applied to every run; may only tighten.")

    @field_validator("inputs")
    @classmethod
    def _inputs_not_empty(cls, value: list[str | list[Any]]) -> list[str | list[Any]]:
        for index, item in enumerate(value):
            if isinstance(item, str):
                if not item.strip():
                    raise ValueError(f"input {index} is empty")
                if len(item) > MAX_TEXT_CHARS:
                    raise ValueError(f"input {index} is longer than {MAX_TEXT_CHARS} characters")
            elif not item:
                raise ValueError(f"input {index} has no parts")
            elif len(item) > 32:
                raise ValueError(f"input {index} has more than 32 parts")
        return value


class BatchCounts(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    # Paused for a human decision on a tool call (POST /runs/{id}/approvals).
    requires_action: int = 0


class BatchPublic(BaseModel):
    id: str
    agent_id: str
    agent_version: int
    owner_id: str
    total: int
    counts: BatchCounts
    status: BatchStatus
    cost_usd: float
    created_at: datetime
    # Inputs the creating request never stored (it died part-way through; counted as failed).
    # POST the batch again with the same idempotency key to run them.
    inputs_lost: int = 0


class BatchRecord(BaseModel):
    """What ``batches/{id}`` stores."""

    model_config = ConfigDict(extra="allow")

    id: str
    owner_id: str
    agent_id: str
    agent_version: int
    total: int
    created_at: datetime
    idempotency_key: str | None = None
    request_hash: str | None = None
    # All run records written and their messages published (a retried create resumes otherwise).
    fanned_out: bool = False
    # Set by the sweep for a batch whose request died before storing every run; cleared
    # when a retry with the same key stores them.
    inputs_lost: int = 0
    # The agent's marketplace listing, copied onto every run (see RunRecord.listing_id).
    listing_id: str | None = None


class BatchRunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    # The last run id of the previous page: ``<batch id>-<input index>``.
    cursor: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}-[0-9]{4,6}$")


def _ref(batch_id: str) -> Any:
    return db.collection(BATCHES).document(batch_id)


def _not_found(batch_id: str) -> NotFound:
    return NotFound(f"batch '{batch_id}' not found", details={"batch_id": batch_id})


def run_id_for(batch_id: str, index: int) -> str:
    return f"{batch_id}-{index:04d}"


def _request_hash(owner_id: str, body: BatchCreate) -> str:
    payload = body.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(f"{owner_id}|{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()


def _key_ref(owner_id: str, key: str) -> Any:
    return idempotency.key_ref(owner_id, _IDEMPOTENCY_SCOPE, key)


def _doc(record: BatchRecord) -> dict[str, Any]:
    return record.model_dump(mode="python", exclude={"id"})


# -- create ---------------------------------------------------------------------------------


def create_batch(principal: Principal, body: BatchCreate, *, header_key: str | None) -> BatchPublic:
    """Store the batch and fan out its runs (a retry with the same key returns the same batch)."""
    from shared.agents.repository import runnable_agent
    from shared.runs.service import listing_of

    if body.idempotency_key and header_key and body.idempotency_key != header_key:
        raise ValidationFailed.field("idempotency_key", "differs from the Idempotency-Key header")
    key = body.idempotency_key or header_key
    if key is not None and len(key) > 200:
        raise ValidationFailed.field("idempotency_key", "at most 200 characters")
    request_hash = _request_hash(principal.user_id, body)
    _consume_quota(principal.user_id, key)
    agent = runnable_agent(body.agent_id, principal)
    record = BatchRecord(
        id=uuid.uuid4().hex,
        owner_id=principal.user_id,
        agent_id=agent.id,
        agent_version=agent.version,
        total=len(body.inputs),
        created_at=datetime.now(UTC),
        idempotency_key=key,
        request_hash=request_hash,
        listing_id=listing_of(agent),
    )
    stored = _store(record)
    if not stored.fanned_out or stored.inputs_lost:
        _fan_out(stored, body, resumed=stored.id != record.id)
    return _public(stored)


def create_pinned_batch(
    *,
    batch_id: str,
    owner_id: str,
    agent_id: str,
    agent_version: int,
    inputs: list[str | list[dict[str, Any]]],
    listing_id: str | None = None,
) -> BatchRecord:
    """A batch of one agent *version* under a chosen id (evals: the id is the eval's).

    No quota or access checks: the caller has made them. A retry with the same id resumes
    the fan-out (runs already stored are kept, queued ones republished).
    """
    body = BatchCreate.model_validate({"agent_id": agent_id, "inputs": inputs})
    record = BatchRecord(
        id=batch_id,
        owner_id=owner_id,
        agent_id=agent_id,
        agent_version=agent_version,
        total=len(inputs),
        created_at=datetime.now(UTC),
        listing_id=listing_id,
    )
    snap = db.get(_ref(batch_id))
    stored = BatchRecord.model_validate({**(snap.to_dict() or {}), "id": batch_id}) if snap.exists else None
    if stored is None:
        db.set(_ref(batch_id), _doc(record))
        stored = record
    if not stored.fanned_out:
        _fan_out(stored, body, resumed=snap.exists)
    return stored


def _consume_quota(owner_id: str, key: str | None) -> None:
    """A batch is one run-creating request against the per-user limit (before anything is written).

    Its size is bounded by the contract (1 to 1000 inputs), not by the per-minute limit: counting
    each input would make every batch above the limit impossible with default settings. A
    retry of a batch already stored (same key) spends nothing, as for runs.
    """
    from shared.runs.rate_limit import consume_run_quota

    if key is not None and db.get(_key_ref(owner_id, key)).exists:
        return
    consume_run_quota(owner_id)


def _store(record: BatchRecord) -> BatchRecord:
    first = idempotency.create_once(
        _ref(record.id),
        _doc(record),
        owner_id=record.owner_id,
        scope=_IDEMPOTENCY_SCOPE,
        key=record.idempotency_key,
        request_hash=record.request_hash,
        id_field="batch_id",
        what="batch",
        created_at=record.created_at,
    )
    if first is None:
        return record
    return BatchRecord.model_validate({**first[1], "id": first[0]})


def _run_records(batch: BatchRecord, body: BatchCreate) -> list[RunRecord]:
    from shared.runs.service import new_run_record

    records: list[RunRecord] = []
    for index, item in enumerate(body.inputs):
        run_body = RunCreate.model_validate(
            {
                "agent_id": batch.agent_id,
                "input": item if isinstance(item, str) else [p.model_dump() for p in item],
                "mode": "async",
                "limits": body.limits.model_dump() if body.limits else None,
            }
        )
        run = new_run_record(
            owner_id=batch.owner_id,
            agent_id=batch.agent_id,
            agent_version=batch.agent_version,
            body=run_body,
            status="queued",
            idempotency_key=None,
            run_id=run_id_for(batch.id, index),
            listing_id=batch.listing_id,
        )
        run.batch_id = batch.id
        run.created_at = batch.created_at
        records.append(run)
    return records


def _write_runs(records: list[RunRecord], *, resumed: bool) -> list[RunRecord]:
    """Create the run records that do not exist yet; returns the ones still queued."""
    queued: list[RunRecord] = []
    for start in range(0, len(records), _WRITE_CHUNK):
        chunk = records[start : start + _WRITE_CHUNK]
        existing: dict[str, dict[str, Any]] = {}
        if resumed:
            snaps = db.get_all([repository.run_ref(r.id) for r in chunk])
            existing = {s.id: (s.to_dict() or {}) for s in snaps if s.exists}
        missing = [r for r in chunk if r.id not in existing]

        def build(batch: db.CountingWrites, missing: list[RunRecord] = missing) -> None:
            for run in missing:
                batch.create(repository.run_ref(run.id), repository.to_doc(run))

        db.commit_batch(build)
        queued.extend(missing)
        queued.extend(r for r in chunk if existing.get(r.id, {}).get("status") == "queued")
    return queued


def _fan_out(batch: BatchRecord, body: BatchCreate, *, resumed: bool) -> None:
    from shared.runs.claim import close_run
    from shared.runs.queue import RunMessage, publish_runs

    queued = _write_runs(_run_records(batch, body), resumed=resumed)
    failed = publish_runs([RunMessage(r.id) for r in queued])
    for run_id in failed:
        # Never leave a run queued without a message: it fails now and the counts say so.
        close_run(run_id, "failed", {"code": "enqueue_failed", "message": "the run could not be queued"})
    if failed:
        _log.warning("batch runs could not be queued", extra={"batch_id": batch.id, "failed": len(failed)})
    db.update(_ref(batch.id), {"fanned_out": True, "inputs_lost": 0})
    batch.fanned_out = True
    batch.inputs_lost = 0


def recover_batch(batch: BatchRecord) -> int | None:
    """The sweep's repair of a batch whose request died before it had fanned out.

    Publishes the runs it stored that are still queued (duplicates are harmless: the
    worker's claim runs each once) and records how many inputs it never stored: those
    count as failed until a retry with the same idempotency key stores and runs them.
    Returns that number, or None if Pub/Sub refused (the next sweep tries again).
    """
    from shared.runs.queue import RunMessage, publish_runs

    refs = [repository.run_ref(run_id_for(batch.id, index)) for index in range(batch.total)]
    stored: list[db.Snapshot] = []
    for start in range(0, len(refs), _WRITE_CHUNK):
        stored.extend(s for s in db.get_all(refs[start : start + _WRITE_CHUNK]) if s.exists)
    queued = [s.id for s in stored if (s.to_dict() or {}).get("status") == "queued"]
    if publish_runs([RunMessage(run_id) for run_id in queued]):
        return None
    lost = batch.total - len(stored)
    ref = _ref(batch.id)

    def mark(tx: db.Tx) -> None:
        snap = tx.get(ref)
        # A request that was only slow may have finished the fan-out meanwhile: it wins.
        if snap.exists and not (snap.to_dict() or {}).get("fanned_out"):
            tx.update(ref, {"fanned_out": True, "inputs_lost": lost})

    db.run_transaction(mark)
    if lost:
        _log.warning(
            "batch request died before storing all its inputs",
            extra={"batch_id": batch.id, "inputs_lost": lost},
        )
    return lost


# -- read -----------------------------------------------------------------------------------


def _load(batch_id: str, principal: Principal) -> BatchRecord:
    """The caller's batch: 404 for anyone else's; 403 ``agent_not_allowed`` for a token
    restricted to other agents."""
    record = db.load(BATCHES, batch_id, BatchRecord)
    if record is None or record.owner_id != principal.user_id:
        raise _not_found(batch_id)
    principal.require_agent(record.agent_id)
    return record


def _runs_query(batch_id: str) -> Any:
    from google.cloud.firestore import FieldFilter

    runs: Any = db.collection(repository.RUNS)
    return runs.where(filter=FieldFilter("batch_id", "==", batch_id))


def _public(batch: BatchRecord) -> BatchPublic:
    from google.cloud.firestore import FieldFilter

    base = _runs_query(batch.id)
    jobs: dict[str, Any] = {
        status: (db.count, base.where(filter=FieldFilter("status", "==", status))) for status in _COUNTED
    }
    jobs["cost"] = (db.sum_of, base, "cost_usd")
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {
            name: pool.submit(contextvars.copy_context().run, fn, *args) for name, (fn, *args) in jobs.items()
        }
        values = {name: future.result() for name, future in futures.items()}
    counts = BatchCounts(**{status: int(values[status]) for status in _COUNTED})
    counts.failed += batch.inputs_lost
    finished = counts.succeeded + counts.failed + counts.cancelled
    active = counts.running + counts.requires_action
    counts.queued = max(0, batch.total - finished - active)
    status: BatchStatus = (
        "completed" if finished >= batch.total else "queued" if finished + active == 0 else "running"
    )
    return BatchPublic(
        id=batch.id,
        agent_id=batch.agent_id,
        agent_version=batch.agent_version,
        owner_id=batch.owner_id,
        total=batch.total,
        counts=counts,
        status=status,
        cost_usd=round(float(values["cost"]), 8),
        created_at=batch.created_at,
        inputs_lost=batch.inputs_lost,
    )


def get_batch(principal: Principal, batch_id: str) -> BatchPublic:
    """The caller's batch with live counts (404 for anyone else)."""
    return _public(_load(batch_id, principal))


def list_batch_runs(principal: Principal, batch_id: str, *, limit: int, cursor: str | None) -> RunPage:
    """The batch's runs in input order (cursor = the last run id of the previous page)."""
    batch = _load(batch_id, principal)
    query = _runs_query(batch.id).order_by("__name__")
    if cursor:
        if not cursor.startswith(f"{batch.id}-") or not db.is_valid_doc_id(cursor):
            raise BadRequest("invalid cursor", code="invalid_cursor")
        query = query.start_after({"__name__": repository.run_ref(cursor)})
    snaps = db.query(query.limit(limit + 1))
    records = [RunRecord.model_validate({**(s.to_dict() or {}), "id": s.id}) for s in snaps[:limit]]
    next_cursor = records[-1].id if len(snaps) > limit and records else None
    return RunPage(items=[r.public() for r in records], next_cursor=next_cursor)
