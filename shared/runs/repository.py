"""Stored runs: Firestore ``runs/{id}``; owner-only visibility (anyone else gets 404).

Creating a run with an idempotency key reserves ``idempotency/<owner>:runs.create:<sha256>``
in the same transaction, so a retry returns the first run and never creates a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import db, idempotency
from shared.errors import Conflict, NotFound
from shared.pagination import newest_first
from shared.runs.schemas import RunRecord

if TYPE_CHECKING:
    from shared.auth.principal import Principal

RUNS = "runs"
_IDEMPOTENCY_SCOPE = "runs.create"


def run_ref(run_id: str) -> Any:
    return db.collection(RUNS).document(run_id)


def not_found(run_id: str) -> NotFound:
    return NotFound(f"run '{run_id}' not found", details={"run_id": run_id})


def to_doc(record: RunRecord) -> dict[str, Any]:
    data = record.model_dump(mode="python", exclude={"id"})
    if record.limits is not None:
        data["limits"] = record.limits.model_dump(mode="json")
    return data


def _record(run_id: str, data: dict[str, Any]) -> RunRecord:
    return RunRecord.model_validate({**data, "id": run_id})


def load_run(run_id: str) -> RunRecord | None:
    """A run by id with no access check (the worker and internal callers)."""
    return db.load(RUNS, run_id, RunRecord)


def get_run(run_id: str, owner_id: str) -> RunRecord:
    """The caller's run; anyone else's (or a missing one) is 404."""
    record = load_run(run_id)
    if record is None or record.owner_id != owner_id:
        raise not_found(run_id)
    return record


def get_run_for(principal: Principal, run_id: str) -> RunRecord:
    """``get_run`` for a caller, who may also be a token restricted to some agents
    (403 ``agent_not_allowed`` for a run of another agent)."""
    record = get_run(run_id, principal.user_id)
    principal.require_agent(record.agent_id)
    return record


def idempotency_ref(owner_id: str, key: str) -> Any:
    return idempotency.key_ref(owner_id, _IDEMPOTENCY_SCOPE, key)


def find_idempotent_run(owner_id: str, key: str, request_hash: str) -> RunRecord | None:
    """The run an earlier request with this key created (409 if the request differed)."""
    snap = db.get(idempotency_ref(owner_id, key))
    data = snap.to_dict() if snap.exists else None
    if not data:
        return None
    if data.get("request_hash") != request_hash:
        raise Conflict(
            "this idempotency key was already used with a different request", code="idempotency_key_reused"
        )
    return load_run(str(data["run_id"]))


def create_run(record: RunRecord) -> tuple[RunRecord, bool]:
    """Store a new run; with an idempotency key, a retry returns (first run, False)."""
    first = idempotency.create_once(
        run_ref(record.id),
        to_doc(record),
        owner_id=record.owner_id,
        scope=_IDEMPOTENCY_SCOPE,
        key=record.idempotency_key,
        request_hash=record.request_hash,
        id_field="run_id",
        what="run",
        created_at=record.created_at,
    )
    if first is None:
        return record, True
    return _record(*first), False


def update_run(run_id: str, fields: dict[str, Any]) -> None:
    db.update(run_ref(run_id), fields)


def list_runs(
    owner_id: str,
    *,
    agent_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    agent_ids: frozenset[str] | None = None,
) -> tuple[list[RunRecord], str | None]:
    """The owner's runs, newest first (indexes: owner_id[, agent_id][, status], created_at desc);
    ``agent_ids``: only runs of these agents (a token restricted to them)."""
    return newest_first(
        db.collection(RUNS),
        equals={"owner_id": owner_id, "agent_id": agent_id, "status": status},
        limit=limit,
        cursor=cursor,
        parse=_record,
        position=lambda run: (run.created_at, run.id),
        one_of=("agent_id", sorted(agent_ids)) if agent_ids is not None and agent_id is None else None,
    )
