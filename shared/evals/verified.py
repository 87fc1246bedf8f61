"""Verified quality on marketplace listings: the service's own eval of each published version.

A publisher attaches one of their datasets to a listing (``eval_dataset_id`` when publishing);
the dataset becomes public with it. Every published version is evaluated by the service —
an eval with ``listing_id`` set and a deterministic id per (listing, version, dataset
revision), so republishing never starts it twice — billed like the publisher's own runs.
When it completes, the version's snapshot (``listings/{id}/versions/{n}``) and, for the
listing's newest evaluated version, the listing itself get ``verified``: written only here,
never from a request body. Search sorts by ``verified_pass_rate`` (-1 = not verified).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from shared import db
from shared.evals.schemas import EvalSummary, VerifiedQuality

_log = logging.getLogger(__name__)
UNVERIFIED = -1.0


def verification_eval_id(listing_id: str, version: int, dataset_id: str, revision: int) -> str:
    return hashlib.sha256(f"{listing_id}:{version}:{dataset_id}:{revision}".encode()).hexdigest()[:32]


def attach_and_verify(listing_id: str, owner_id: str, agent_id: str, version: int, dataset_id: str) -> str:
    """Make the dataset public with the listing and evaluate ``version`` (once). Returns the eval id."""
    from shared.evals import datasets
    from shared.evals.service import load, start_eval

    dataset = datasets.load(dataset_id)
    if dataset is None or dataset.owner_id != owner_id:
        raise datasets.not_found(dataset_id)
    if not dataset.public or dataset.listing_id != listing_id:
        db.update(datasets.dataset_ref(dataset_id), {"public": True, "listing_id": listing_id})
    eval_id = verification_eval_id(listing_id, version, dataset_id, dataset.revision)
    if load(eval_id) is None:
        start_eval(
            owner_id=owner_id,
            agent_id=agent_id,
            version=version,
            dataset=dataset,
            listing_id=listing_id,
            eval_id=eval_id,
        )
        _log.info("listing verification started", extra={"listing_id": listing_id, "eval_id": eval_id})
    return eval_id


def record_verification(listing_id: str, version: int, eval_id: str, summary: EvalSummary) -> None:
    """A verification eval completed: put its figures on the version and (if newest) the listing."""
    from shared.evals.service import load
    from shared.marketplace.repository import VERSIONS, listing_ref

    record = load(eval_id)
    if record is None or record.finished_at is None:
        return
    verified = VerifiedQuality(
        pass_rate=summary.pass_rate,
        cases=summary.cases,
        runs=summary.runs,
        cost_per_run_usd=summary.cost_per_run_usd,
        p50_latency_ms=summary.p50_latency_ms,
        p95_latency_ms=summary.p95_latency_ms,
        version=version,
        eval_id=eval_id,
        dataset_id=record.dataset_id,
        evaluated_at=record.finished_at,
    ).model_dump(mode="python")
    ref = listing_ref(listing_id)
    version_ref = ref.collection(VERSIONS).document(str(version))

    def put(tx: db.Tx) -> None:
        snap = tx.get(ref)
        data: dict[str, Any] = snap.to_dict() or {} if snap.exists else {}
        version_snap = tx.get(version_ref)
        if version_snap.exists:
            tx.update(version_ref, {"verified": verified})
        shown: dict[str, Any] | None = data.get("verified")
        if data and (shown is None or int(shown.get("version", 0)) <= version):
            tx.update(ref, {"verified": verified, "verified_pass_rate": summary.pass_rate})

    db.run_transaction(put)
