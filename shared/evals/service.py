"""Evals: run a dataset's cases on one agent version (as a batch) and read the scores.

``POST /evals`` stores ``evals/{id}`` and a snapshot of the dataset
(``evals/{id}/snapshot/dataset``, so editing the dataset later changes nothing), then fans
the cases out as a batch with the same id: run ``<id>-<n>`` is case ``n // repeat``. Each run's
result is scored when it finishes (``shared.evals.scoring``, fed by the run-results topic);
``GET /evals/{id}`` shows the live counts, and the summary once every case is scored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import db
from shared.errors import NotFound, ValidationFailed
from shared.evals import datasets
from shared.evals.schemas import (
    CaseChange,
    CaseResult,
    EvalComparison,
    EvalCreate,
    EvalPage,
    EvalPublic,
    EvalRecord,
    EvalResultPage,
)
from shared.pagination import newest_first

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.evals.datasets import EvalDatasetRecord

EVALS = "evals"
MAX_RUNS = 1000


def eval_ref(eval_id: str) -> Any:
    return db.collection(EVALS).document(eval_id)


def snapshot_ref(eval_id: str) -> Any:
    return eval_ref(eval_id).collection("snapshot").document("dataset")


def results_collection(eval_id: str) -> Any:
    return eval_ref(eval_id).collection("results")


def not_found(eval_id: str) -> NotFound:
    return NotFound(f"eval '{eval_id}' not found", details={"eval_id": eval_id})


_IDEMPOTENCY_SCOPE = "evals.create"


def _request_hash(owner_id: str, body: EvalCreate) -> str:
    payload = body.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(f"{owner_id}|{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()


def _earlier(owner_id: str, key: str, request_hash: str) -> EvalRecord | None:
    """The eval a request with this Idempotency-Key created (409 if that request differed)."""
    from shared import idempotency
    from shared.errors import Conflict

    snap = db.get(idempotency.key_ref(owner_id, _IDEMPOTENCY_SCOPE, key))
    data = snap.to_dict() if snap.exists else None
    if not data:
        return None
    if data.get("request_hash") != request_hash:
        raise Conflict(
            "this idempotency key was already used with a different request", code="idempotency_key_reused"
        )
    return load(str(data["eval_id"]))


def create_eval(principal: Principal, body: EvalCreate, *, header_key: str | None = None) -> EvalPublic:
    """Start an eval; a retry with the same Idempotency-Key returns the first one (and resumes
    its fan-out if that request died before finishing it)."""
    from shared.agents.repository import get_agent_version, runnable_agent
    from shared.runs.rate_limit import consume_run_quota

    if body.idempotency_key and header_key and body.idempotency_key != header_key:
        raise ValidationFailed.field("idempotency_key", "differs from the Idempotency-Key header")
    key = body.idempotency_key or header_key
    if key is not None and len(key) > 200:
        raise ValidationFailed.field("idempotency_key", "at most 200 characters")
    request_hash = _request_hash(principal.user_id, body)
    if key is not None:
        earlier = _earlier(principal.user_id, key, request_hash)
        if earlier is not None:
            ensure_fanned_out(earlier)
            return earlier.public()
    dataset = datasets.readable(principal, body.dataset_id)
    agent = runnable_agent(body.agent_id, principal)
    version = body.agent_version or agent.version
    if version > agent.version:
        raise NotFound(
            f"agent '{agent.id}' has no version {version}", details={"agent_id": agent.id, "version": version}
        )
    get_agent_version(agent.id, version)
    if len(dataset.cases) * body.repeat > MAX_RUNS:
        raise ValidationFailed.field("repeat", f"cases x repeat must be at most {MAX_RUNS}")
    consume_run_quota(principal.user_id)
    return start_eval(
        owner_id=principal.user_id,
        agent_id=agent.id,
        version=version,
        dataset=dataset,
        repeat=body.repeat,
        idempotency_key=key,
        request_hash=request_hash,
    )


def start_eval(
    *,
    owner_id: str,
    agent_id: str,
    version: int,
    dataset: EvalDatasetRecord,
    repeat: int = 1,
    listing_id: str | None = None,
    eval_id: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> EvalPublic:
    """Store the eval and its dataset snapshot, then fan the cases out as a pinned batch.

    With an idempotency key the eval is created with its key reservation in one transaction
    (after the snapshot, so an eval never lacks one); a concurrent retry gets the first eval.
    """

    record = EvalRecord(
        id=eval_id or uuid.uuid4().hex,
        owner_id=owner_id,
        agent_id=agent_id,
        agent_version=version,
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        dataset_revision=dataset.revision,
        repeat=repeat,
        total=len(dataset.cases) * repeat,
        case_names=[c.name for c in dataset.cases],
        listing_id=listing_id,
        created_at=datetime.now(UTC),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    stored_dataset = dataset.model_dump(mode="json", by_alias=True)
    snapshot = {"cases": stored_dataset["cases"], "evaluators": stored_dataset["evaluators"]}
    doc = record.model_dump(mode="python", exclude={"id"})
    if idempotency_key is None:

        def build(batch: db.CountingWrites) -> None:
            batch.set(snapshot_ref(record.id), snapshot)
            batch.set(eval_ref(record.id), doc)

        db.commit_batch(build)
    else:
        from shared import idempotency

        db.set(snapshot_ref(record.id), snapshot)
        first = idempotency.create_once(
            eval_ref(record.id),
            doc,
            owner_id=owner_id,
            scope=_IDEMPOTENCY_SCOPE,
            key=idempotency_key,
            request_hash=request_hash,
            id_field="eval_id",
            what="eval",
            created_at=record.created_at,
        )
        if first is not None:  # a concurrent request with the same key won
            record = EvalRecord.model_validate({**first[1], "id": first[0]})
    ensure_fanned_out(record, snapshot)
    return record.public()


def ensure_fanned_out(record: EvalRecord, snapshot: dict[str, Any] | None = None) -> None:
    """Fan the eval's cases out as its pinned batch (idempotent: a batch already fanned out is
    left alone, a partial one is resumed). Retries and the sweep call it too."""
    from shared.runs.batches import create_pinned_batch

    if snapshot is None:
        snapshot = db.get(snapshot_ref(record.id)).to_dict() or {}
    cases: list[dict[str, Any]] = list(snapshot.get("cases") or [])
    inputs: list[Any] = [case["input"] for case in cases for _ in range(record.repeat)]
    # Eval runs are not usage of a listing: "" keeps them out of its run statistics.
    create_pinned_batch(
        batch_id=record.id,
        owner_id=record.owner_id,
        agent_id=record.agent_id,
        agent_version=record.agent_version,
        inputs=inputs,
        listing_id="",
    )


def load(eval_id: str) -> EvalRecord | None:
    return db.load(EVALS, eval_id, EvalRecord)


def readable(principal: Principal | None, eval_id: str) -> EvalRecord:
    """The caller's eval, or a listing's verification eval (public); 404 otherwise."""
    record = load(eval_id)
    if record is None or not (record.listing_id or (principal and record.owner_id == principal.user_id)):
        raise not_found(eval_id)
    if principal is not None and not record.listing_id:
        principal.require_agent(record.agent_id)  # a token restricted to other agents: 403
    return record


def get_eval(principal: Principal | None, eval_id: str) -> EvalPublic:
    record = readable(principal, eval_id)
    if record.status == "running":
        from shared.evals.scoring import reconcile

        record = reconcile(record)
    return record.public()


def list_mine(
    principal: Principal, *, agent_id: str | None, dataset_id: str | None, limit: int, cursor: str | None
) -> EvalPage:
    if agent_id is not None:
        principal.require_agent(agent_id)
    restricted = principal.agent_ids is not None and agent_id is None
    items, next_cursor = newest_first(
        db.collection(EVALS),
        equals={"owner_id": principal.user_id, "agent_id": agent_id, "dataset_id": dataset_id},
        limit=limit,
        cursor=cursor,
        parse=lambda doc_id, data: EvalRecord.model_validate({**data, "id": doc_id}).public(),
        position=lambda item: (item.created_at, item.id),
        one_of=("agent_id", sorted(principal.agent_ids or ())) if restricted else None,
    )
    return EvalPage(items=items, next_cursor=next_cursor)


def all_results(eval_id: str) -> list[CaseResult]:
    snaps = db.query(results_collection(eval_id).order_by("__name__"))
    return [CaseResult.model_validate(s.to_dict() or {}) for s in snaps]


def list_results(
    principal: Principal | None, eval_id: str, *, limit: int, cursor: str | None
) -> EvalResultPage:
    """Scored runs in case order (cursor = the last run id of the previous page)."""
    from shared.errors import BadRequest

    record = readable(principal, eval_id)
    query = results_collection(record.id).order_by("__name__")
    if cursor:
        if not cursor.startswith(f"{record.id}-") or not db.is_valid_doc_id(cursor):
            raise BadRequest("invalid cursor", code="invalid_cursor")
        query = query.start_after({"__name__": results_collection(record.id).document(cursor)})
    snaps = db.query(query.limit(limit + 1))
    items = [CaseResult.model_validate(s.to_dict() or {}) for s in snaps[:limit]]
    return EvalResultPage(items=items, next_cursor=items[-1].run_id if len(snaps) > limit and items else None)


def _by_case(results: list[CaseResult]) -> dict[str, dict[str, float | bool | None]]:
    """Per case: passed (every repeat passed), mean score, mean cost, mean latency."""
    grouped: dict[str, list[CaseResult]] = {}
    for r in results:
        grouped.setdefault(r.case_name, []).append(r)
    out: dict[str, dict[str, float | bool | None]] = {}
    for name, rs in grouped.items():
        latencies = [r.duration_ms for r in rs if r.duration_ms is not None]
        out[name] = {
            "passed": all(r.passed for r in rs),
            "score": sum(r.score for r in rs) / len(rs),
            "cost": sum(r.cost_usd for r in rs) / len(rs),
            "latency": sum(latencies) / len(latencies) if latencies else None,
        }
    return out


def _delta(head: float | None, base: float | None) -> float | None:
    return None if head is None or base is None else round(head - base, 8)


def compare(principal: Principal | None, base_id: str, head_id: str) -> EvalComparison:
    """Which cases changed between two evals of the same dataset, and the cost/latency deltas."""
    from shared.errors import Conflict

    base, head = readable(principal, base_id), readable(principal, head_id)
    if base.dataset_id != head.dataset_id:
        raise ValidationFailed.field("head", "the two evals ran different datasets")
    if base.status != "completed" or head.status != "completed":
        raise Conflict("both evals must be completed", code="eval_running")
    b, h = _by_case(all_results(base.id)), _by_case(all_results(head.id))
    cases: list[CaseChange] = []
    for name in list(dict.fromkeys([*base.case_names, *head.case_names])):
        bc, hc = b.get(name), h.get(name)
        bp = bool(bc["passed"]) if bc else None
        hp = bool(hc["passed"]) if hc else None
        if bp is None:
            change = "added"
        elif hp is None:
            change = "removed"
        elif bp != hp:
            change = "fixed" if hp else "regressed"
        else:
            change = "unchanged_pass" if hp else "unchanged_fail"
        cases.append(
            CaseChange(
                case_name=name,
                base_passed=bp,
                head_passed=hp,
                change=change,
                base_score=_f(bc, "score"),
                head_score=_f(hc, "score"),
                cost_delta_usd=_delta(_f(hc, "cost"), _f(bc, "cost")),
                latency_delta_ms=_delta(_f(hc, "latency"), _f(bc, "latency")),
            )
        )
    bs, hs = base.summary, head.summary
    return EvalComparison(
        base=base.public(),
        head=head.public(),
        pass_rate_delta=_delta(hs.pass_rate if hs else None, bs.pass_rate if bs else None),
        cost_per_run_delta_usd=_delta(
            hs.cost_per_run_usd if hs else None, bs.cost_per_run_usd if bs else None
        ),
        p50_latency_delta_ms=_delta(hs.p50_latency_ms if hs else None, bs.p50_latency_ms if bs else None),
        p95_latency_delta_ms=_delta(hs.p95_latency_ms if hs else None, bs.p95_latency_ms if bs else None),
        fixed=sum(1 for c in cases if c.change == "fixed"),
        regressed=sum(1 for c in cases if c.change == "regressed"),
        cases=cases,
    )


def _f(values: dict[str, float | bool | None] | None, key: str) -> float | None:
    if values is None:
        return None
    value = values.get(key)
    return None if value is None else float(value)
