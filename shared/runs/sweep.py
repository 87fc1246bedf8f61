"""The periodic sweep: async work whose request died before Pub/Sub had all of it.

A request that stores queued runs and then dies (instance killed, timeout) before their
messages are accepted leaves them queued with nothing to deliver them. Retries with the same
idempotency key and ``GET /runs/{id}`` recover such a run, but a client that never comes
back would leave it queued forever. The sweep closes that gap without anyone asking:

- async runs still ``publish_pending`` after ``RUN_REPUBLISH_AFTER_SECONDS`` are published
  again (a message sent twice is harmless: the worker's claim runs a run once); one that is
  no longer queued only has the stale flag cleared;
- batches not ``fanned_out`` after ``BATCH_RECOVER_AFTER_SECONDS`` have their queued runs
  published and the inputs their request never stored counted (``shared.runs.batches``);
- runs nobody will continue (``shared.runs.abandoned``): paused longer than
  ``RUN_APPROVAL_TTL_SECONDS`` (``approval_expired``), and sync/stream runs whose request's
  instance died (lease expired: ``instance_lost``);
- evals still running after ``RECONCILE_AFTER_SECONDS`` (``shared.evals.scoring.repair``):
  a fan-out their request never finished is resumed, finished runs whose result message was
  lost (or whose scorer died) are scored, and a fully scored eval gets its summary.

Cloud Scheduler publishes a sweep message (attribute ``kind=sweep``) to the run-requests
topic every few minutes and the worker runs ``sweep()``; ``make dev`` publishes it itself.
Both queries are index-backed and cost one read each when there is nothing to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import db
from shared.errors import ServiceUnavailable
from shared.runs import repository
from shared.runs.schemas import RunRecord
from shared.settings import get_settings

SWEEP_KIND = "sweep"
# The attributes of a sweep message (Cloud Scheduler's job, make dev's sweeper, the tests).
SWEEP_ATTRIBUTES = {"kind": SWEEP_KIND}
# Enough to drain a backlog in one sweep while staying well inside the worker's timeout.
_PAGE = 100
_TIME_BUDGET_SECONDS = 120.0

_log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    runs_republished: int = 0
    runs_cleared: int = 0
    batches_recovered: int = 0
    batch_inputs_lost: int = 0
    approvals_expired: int = 0
    runs_lost: int = 0
    evals_checked: int = 0
    evals_completed: int = 0
    # Pub/Sub refused a publish: the rest waits for the next sweep.
    interrupted: bool = False


def is_sweep_message(attributes: dict[str, str]) -> bool:
    return attributes.get("kind") == SWEEP_KIND


def sweep() -> SweepReport:
    """Recover stranded runs and batches older than their thresholds (see the module docstring)."""
    settings = get_settings()
    now = datetime.now(UTC)
    deadline = time.monotonic() + _TIME_BUDGET_SECONDS
    report = SweepReport()
    _sweep_runs(now - timedelta(seconds=settings.run_republish_after_seconds), report, deadline)
    if not report.interrupted:
        _sweep_batches(now - timedelta(seconds=settings.batch_recover_after_seconds), report, deadline)
    from shared.runs import abandoned

    report.approvals_expired = abandoned.expire_approvals(
        now - timedelta(seconds=settings.run_approval_ttl_seconds), deadline
    )
    report.runs_lost = abandoned.end_lost_runs(now, deadline)
    if not report.interrupted:
        _sweep_evals(now, report, deadline)
    _log.info("sweep finished", extra={"sweep": report.__dict__})
    return report


def _overdue(
    collection: str, flag: str, value: bool | str, cutoff: datetime, deadline: float
) -> Iterator[Any]:
    """Documents with ``flag == value`` created by ``cutoff``, each once, page by page.

    Handled documents leave the query; one whose update failed would come back first in
    every page, so it is skipped, and the sweep ends when a page holds nothing new.
    """
    from google.cloud.firestore import FieldFilter

    base: Any = db.collection(collection)
    query = (
        base.where(filter=FieldFilter(flag, "==", value))
        .where(filter=FieldFilter("created_at", "<=", cutoff))
        .limit(_PAGE)
    )
    seen: set[str] = set()
    while time.monotonic() < deadline:
        snaps = [snap for snap in db.query(query) if snap.id not in seen]
        if not snaps:
            return
        for snap in snaps:
            seen.add(snap.id)
            yield snap


def _sweep_runs(cutoff: datetime, report: SweepReport, deadline: float) -> None:
    from shared.runs.async_runs import republish_if_pending

    for snap in _overdue(repository.RUNS, "publish_pending", True, cutoff, deadline):
        record = RunRecord.model_validate({**(snap.to_dict() or {}), "id": snap.id})
        if record.status != "queued":
            # Published after all (only marking it failed): nothing to send, just the flag.
            repository.update_run(record.id, {"publish_pending": False})
            report.runs_cleared += 1
            continue
        try:
            # Old enough by the query; 0 = publish now and raise if Pub/Sub refuses.
            republish_if_pending(record, min_age_seconds=0.0)
        except ServiceUnavailable:
            report.interrupted = True
            return
        report.runs_republished += 1


def _sweep_batches(cutoff: datetime, report: SweepReport, deadline: float) -> None:
    from shared.runs.batches import BATCHES, BatchRecord, recover_batch

    for snap in _overdue(BATCHES, "fanned_out", False, cutoff, deadline):
        batch = BatchRecord.model_validate({**(snap.to_dict() or {}), "id": snap.id})
        lost = recover_batch(batch)
        if lost is None:
            report.interrupted = True
            return
        report.batches_recovered += 1
        report.batch_inputs_lost += lost


def _sweep_evals(now: datetime, report: SweepReport, deadline: float) -> None:
    from shared.evals.schemas import EvalRecord
    from shared.evals.scoring import RECONCILE_AFTER_SECONDS, repair
    from shared.evals.service import EVALS

    cutoff = now - timedelta(seconds=RECONCILE_AFTER_SECONDS)
    for snap in _overdue(EVALS, "status", "running", cutoff, deadline):
        record = EvalRecord.model_validate({**(snap.to_dict() or {}), "id": snap.id})
        try:
            repaired = repair(record)
        except ServiceUnavailable:
            report.interrupted = True
            return
        report.evals_checked += 1
        if repaired.status == "completed":
            report.evals_completed += 1
