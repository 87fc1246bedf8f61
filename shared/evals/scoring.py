"""Scoring an eval's runs as they finish — exactly once per run.

Fed by the run-results topic (the worker function subscribes: ``shared.worker`` hands
messages from ``RUN_RESULTS_TOPIC`` here). A run belongs to an eval when its ``batch_id`` is
an eval's id. Scoring writes ``evals/{id}/results/{run_id}`` with ``create`` and bumps the
eval's counters with increments **in the same atomic batch**: a redelivered message finds
the result and does nothing (if it races the first, its create fails and the batch with it).
The run that completes the count folds the summary (p50/p95 over the stored results) in a
transaction, once. ``GET /evals/{id}`` also scores finished runs whose result message never
came (``reconcile``), so an eval cannot stay running because a message was lost.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from shared import db
from shared.evals.evaluators import CaseObservation, EvaluatorResult, LLMJudgeEvaluator, evaluate
from shared.evals.schemas import CaseResult, EvalRecord, EvalSummary
from shared.evals.service import EVALS, all_results, eval_ref, load, results_collection, snapshot_ref

_log = logging.getLogger(__name__)
_OUTPUT_CHARS = 20_000
RECONCILE_AFTER_SECONDS = 30.0


def handle_result_message(data: bytes, attributes: dict[str, str]) -> None:
    """A run-results message: score it if its run belongs to an eval (else nothing)."""
    if not attributes.get("batch_id"):
        return
    try:
        run: Any = json.loads(data)
    except ValueError:
        _log.warning("undecodable run result dropped", extra={"run_id": attributes.get("run_id")})
        return
    if isinstance(run, dict):
        score_run(run)  # pyright: ignore[reportUnknownArgumentType]


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _tools_called(run_id: str) -> list[str]:
    from shared.runs.events import read_events

    return [str(e.data.get("name")) for e in read_events(run_id) if e.type == "tool.call"]


def score_run(run: dict[str, Any]) -> bool:
    """Score one finished run of an eval; False if it is not an eval's or already scored."""
    batch_id, run_id = run.get("batch_id"), str(run.get("id") or "")
    if not batch_id or run.get("status") not in ("succeeded", "failed", "cancelled"):
        return False
    record = load(str(batch_id))
    if record is None or not run_id.startswith(f"{record.id}-"):
        return False
    result_ref = results_collection(record.id).document(run_id)
    if db.get(result_ref).exists:
        return False
    snapshot = db.get(snapshot_ref(record.id)).to_dict() or {}
    index = int(run_id.rsplit("-", 1)[1])
    case_index, repeat_index = divmod(index, record.repeat)
    case: dict[str, Any] = snapshot["cases"][case_index]
    result = _score(run, case, list(snapshot.get("evaluators") or []), case_index, repeat_index)
    succeeded = run.get("status") == "succeeded"

    def build(batch: db.CountingWrites) -> None:
        batch.create(result_ref, result.model_dump(mode="json") | {"scored_at": result.scored_at})
        batch.update(
            eval_ref(record.id),
            {
                "scored": db.increment(1),
                "passed": db.increment(1 if result.passed else 0),
                "errored": db.increment(0 if succeeded else 1),
                "cost_usd": db.increment(result.cost_usd),
                "judge_cost_usd": db.increment(result.judge_cost_usd),
            },
        )

    from google.api_core import exceptions as gexc

    try:
        db.commit_batch(build)
    except (gexc.AlreadyExists, gexc.Conflict):
        return False  # a concurrent delivery scored it
    current = load(record.id)
    if current is not None and current.status == "running" and current.scored >= current.total:
        finalize(current.id)
    return True


def _score(
    run: dict[str, Any],
    case: dict[str, Any],
    shared_evaluators: list[dict[str, Any]],
    case_index: int,
    repeat: int,
) -> CaseResult:
    from pydantic import TypeAdapter

    from shared.evals.evaluators import Evaluator

    adapter: TypeAdapter[Any] = TypeAdapter(Evaluator)
    case_evaluators: list[dict[str, Any]] = case.get("evaluators") or []
    evaluators: list[Any] = [adapter.validate_python(e) for e in [*shared_evaluators, *case_evaluators]]
    started, finished = _time(run.get("started_at")), _time(run.get("finished_at"))
    duration = (finished - started).total_seconds() if started and finished else None
    succeeded = run.get("status") == "succeeded"
    results: list[EvaluatorResult] = []
    judge_cost = 0.0
    if succeeded:
        obs = CaseObservation(
            input=case.get("input"),
            output=run.get("output"),
            expected_output=case.get("expected_output"),
            has_expected_output=case.get("expected_output") is not None,
            status=str(run.get("status")),
            duration_seconds=duration,
            cost_usd=run.get("cost_usd"),
            tools_called=_tools_called(str(run["id"]))
            if any(e.type == "tool_called" for e in evaluators)
            else [],
        )
        for ev in evaluators:
            if isinstance(ev, LLMJudgeEvaluator):
                from shared import aio
                from shared.evals.judge import judge

                judged = aio.run(judge(ev, obs.output, obs.input, obs.expected_output))
                results.append(judged.result)
                judge_cost += judged.cost_usd
            else:
                results.append(evaluate(ev, obs))
    passed = succeeded and all(r.passed for r in results)
    score = (sum(r.score for r in results) / len(results)) if results else (1.0 if passed else 0.0)
    output = run.get("output")
    if output is not None and len(json.dumps(output, default=str)) > _OUTPUT_CHARS:
        output = json.dumps(output, default=str)[:_OUTPUT_CHARS] + "…"
    return CaseResult(
        run_id=str(run["id"]),
        case_index=case_index,
        case_name=str(case.get("name")),
        repeat_index=repeat,
        run_status=str(run.get("status")),
        passed=passed,
        score=round(score, 6),
        evaluators=results,
        output=output,
        error=run.get("error") if not succeeded else None,
        duration_ms=round(duration * 1000, 3) if duration is not None else None,
        cost_usd=float(run.get("cost_usd") or 0.0),
        judge_cost_usd=round(judge_cost, 8),
        scored_at=datetime.now(UTC),
    )


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return round(ordered[int(rank) - 1], 3)


def finalize(eval_id: str) -> EvalRecord | None:
    """Fold the summary once every run is scored (idempotent; later callers change nothing)."""
    results = all_results(eval_id)
    record = load(eval_id)
    if record is None or record.status != "running" or len(results) < record.total:
        return record
    latencies = [r.duration_ms for r in results if r.duration_ms is not None and r.run_status == "succeeded"]
    passed = sum(1 for r in results if r.passed)
    cost = sum(r.cost_usd for r in results)
    summary = EvalSummary(
        pass_rate=round(passed / len(results), 6),
        cases=len(record.case_names),
        runs=len(results),
        cost_usd=round(cost, 8),
        cost_per_run_usd=round(cost / len(results), 8),
        judge_cost_usd=round(sum(r.judge_cost_usd for r in results), 8),
        p50_latency_ms=_percentile(latencies, 50),
        p95_latency_ms=_percentile(latencies, 95),
        mean_score=round(sum(r.score for r in results) / len(results), 6),
    )
    ref = eval_ref(eval_id)

    def fold(tx: db.Tx) -> bool:
        snap = tx.get(ref)
        if not snap.exists or (snap.to_dict() or {}).get("status") != "running":
            return False
        tx.update(
            ref,
            {
                "status": "completed",
                "summary": summary.model_dump(mode="json"),
                "finished_at": datetime.now(UTC),
            },
        )
        return True

    if db.run_transaction(fold) and record.listing_id:
        from shared.evals.verified import record_verification

        record_verification(record.listing_id, record.agent_version, eval_id, summary)
    return load(eval_id)


def reconcile(record: EvalRecord) -> EvalRecord:
    """Score finished runs whose result message never arrived (``GET /evals/{id}``, the sweep).

    Counts the eval's finished runs first (one read per 1000): only when more have finished
    than are scored does it read them. An eval whose every run is scored but whose summary was
    never folded (the scorer died in between) is finalized.
    """
    if (datetime.now(UTC) - record.created_at).total_seconds() < RECONCILE_AFTER_SECONDS:
        return record
    if record.scored >= record.total:
        return finalize(record.id) or record
    from google.cloud.firestore import FieldFilter

    from shared.runs.repository import RUNS

    collection: Any = db.collection(RUNS)
    runs: Any = collection.where(filter=FieldFilter("batch_id", "==", record.id))
    ended: Any = runs.where(filter=FieldFilter("status", "in", ["succeeded", "failed", "cancelled"]))
    if db.count(ended) <= record.scored:
        return record
    finished = db.query(ended)
    refs = [results_collection(record.id).document(s.id) for s in finished]
    scored = {s.id for s in db.get_all(refs) if s.exists}
    for snap in finished:
        if snap.id not in scored:
            data = snap.to_dict() or {}
            score_run({**data, "id": snap.id})
    return load(record.id) or record


def repair(record: EvalRecord) -> EvalRecord:
    """The sweep's repair of an eval still running after ``RECONCILE_AFTER_SECONDS``: resume a
    fan-out its request never finished (the batch is idempotent), then score what finished."""
    from shared.runs.batches import BATCHES

    batch = db.get(db.collection(BATCHES).document(record.id))
    if not batch.exists or not (batch.to_dict() or {}).get("fanned_out"):
        from shared.evals.service import ensure_fanned_out

        ensure_fanned_out(record)
    return reconcile(record)


__all__ = ["EVALS", "finalize", "handle_result_message", "reconcile", "repair", "score_run"]
