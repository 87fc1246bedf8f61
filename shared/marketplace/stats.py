"""Per-listing counters in sharded documents, and the fold into the listing document.

Every counter lives in ``listings/{id}/stat_shards/{n}`` and is only ever changed with
atomic increments on a random shard, so concurrent installs, ratings and runs never
contend on one document. Exact stats are the sum over the shards (the detail endpoint
reads them); search needs sort keys on the listing itself, so :func:`fold` copies the
totals there. ``fold`` re-reads the shards after writing and repeats while they moved, so
when concurrent writers finish, the last fold written is the final total.

Latency is kept as a bounded histogram (fixed bucket bounds, ms); p50 is interpolated
linearly inside the bucket that holds the median.
"""

from __future__ import annotations

import bisect
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared import db
from shared.marketplace.schemas import ListingStats
from shared.settings import get_settings

LISTINGS = "listings"
SHARDS = "stat_shards"
# Upper bounds (ms) of the latency buckets; the last bucket is open-ended.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    50,
    100,
    200,
    350,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10_000,
    15_000,
    20_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
)
MAX_FOLD_ROUNDS = 4
_COUNTERS = ("rating_sum", "rating_count", "installs", "runs", "successes", "cost_sum", "latency_count")

_log = logging.getLogger(__name__)


def _listing_ref(listing_id: str) -> Any:
    return db.collection(LISTINGS).document(listing_id)


def shard_ref(listing_id: str) -> Any:
    """A random shard of the listing's counters."""
    shard = random.randrange(max(1, get_settings().marketplace_stat_shards))
    return _listing_ref(listing_id).collection(SHARDS).document(str(shard))


def bucket_key(latency_ms: float) -> str:
    return f"b{bisect.bisect_left(LATENCY_BOUNDS_MS, latency_ms):02d}"


def increments(**amounts: float) -> dict[str, Any]:
    """``set(merge=True)`` data applying ``amounts`` as atomic increments (nested keys dotted)."""
    data: dict[str, Any] = {}
    for name, amount in amounts.items():
        if not amount:
            continue
        if "." in name:
            parent, child = name.split(".", 1)
            data.setdefault(parent, {})[child] = db.increment(amount)
        else:
            data[name] = db.increment(amount)
    return data


def add(listing_id: str, **amounts: float) -> None:
    """Add to the listing's counters (one write to a random shard)."""
    data = increments(**amounts)
    if data:
        db.set(shard_ref(listing_id), data, merge=True)


def _totals(listing_id: str) -> dict[str, Any]:
    totals: dict[str, Any] = dict.fromkeys(_COUNTERS, 0)
    buckets: dict[str, float] = {}
    for snap in db.query(_listing_ref(listing_id).collection(SHARDS)):
        data = snap.to_dict() or {}
        for name in _COUNTERS:
            totals[name] += data.get(name) or 0
        latency: dict[str, Any] = data.get("latency") or {}
        for key, value in latency.items():
            buckets[key] = buckets.get(key, 0) + (value or 0)
    totals["latency"] = buckets
    return totals


def _p50(buckets: dict[str, float]) -> float | None:
    total = sum(buckets.values())
    if total <= 0:
        return None
    half = total / 2
    seen = 0.0
    for index in range(len(LATENCY_BOUNDS_MS) + 1):
        count = buckets.get(f"b{index:02d}", 0)
        if count and seen + count >= half:
            low = LATENCY_BOUNDS_MS[index - 1] if index > 0 else 0.0
            high = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else low * 2
            return round(low + (high - low) * (half - seen) / count, 1)
        seen += count
    return None


def stats_of(totals: dict[str, Any]) -> ListingStats:
    ratings = int(totals["rating_count"])
    runs = int(totals["runs"])
    return ListingStats(
        rating_avg=round(totals["rating_sum"] / ratings, 4) if ratings else None,
        rating_count=ratings,
        installs=int(totals["installs"]),
        runs=runs,
        success_rate=round(totals["successes"] / runs, 4) if runs else None,
        p50_latency_ms=_p50(totals["latency"]),
        avg_cost_usd=round(totals["cost_sum"] / runs, 6) if runs else None,
    )


def current_stats(listing_id: str) -> ListingStats:
    """Exact stats: the sum over the shards (one read per shard)."""
    return stats_of(_totals(listing_id))


def fold(listing_id: str) -> ListingStats:
    """Copy the shard totals onto the listing document (its sort keys and ``stats``)."""
    stats = current_stats(listing_id)
    for _ in range(MAX_FOLD_ROUNDS):
        db.update(
            _listing_ref(listing_id),
            {
                "rating_avg": stats.rating_avg or 0.0,
                "rating_count": stats.rating_count,
                "installs": stats.installs,
                "stats": stats.model_dump(mode="json"),
                "stats_folded_at": datetime.now(UTC),
            },
        )
        again = current_stats(listing_id)
        if again == stats:
            break
        stats = again
    return stats


def fold_if_stale(listing_id: str, folded_at: datetime | None) -> None:
    """Fold at most once per ``MARKETPLACE_STATS_FOLD_SECONDS`` (for run completions)."""
    window = timedelta(seconds=get_settings().marketplace_stats_fold_seconds)
    if folded_at is None or datetime.now(UTC) - folded_at >= window:
        fold(listing_id)


def record_run(listing_id: str, *, succeeded: bool, latency_ms: float | None, cost_usd: float | None) -> None:
    """Count one finished run of an installed copy of ``listing_id`` (1 write, + a throttled fold)."""
    amounts: dict[str, float] = {"runs": 1, "successes": 1 if succeeded else 0, "cost_sum": cost_usd or 0.0}
    if latency_ms is not None and latency_ms >= 0:
        amounts["latency_count"] = 1
        amounts["latency." + bucket_key(latency_ms)] = 1
    add(listing_id, **amounts)
    snap = db.get(_listing_ref(listing_id))
    data = snap.to_dict() if snap.exists else None
    if data and not data.get("deleted"):
        fold_if_stale(listing_id, data.get("stats_folded_at"))


class FinishedRun(Protocol):
    """The part of a finished run record the stats need."""

    @property
    def id(self) -> str: ...

    @property
    def agent_id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def started_at(self) -> datetime | None: ...

    @property
    def finished_at(self) -> datetime | None: ...

    @property
    def cost_usd(self) -> float | None: ...


def record_run_for_listing(run: FinishedRun, listing_id: str | None = None) -> None:
    """Count a finished run in its listing's stats when the agent was installed from one.

    Called by the runs service as each run is finalised. ``listing_id`` is the one the run
    record carries (copied from the agent when the run was created): "" = none, nothing to
    do; None = unknown (older runs), so the agent's ``source`` is read. One shard write for
    installed copies. Never raises — stats must not fail a run.
    """
    try:
        if listing_id is None:
            snap = db.get(db.collection("agents").document(run.agent_id))
            source: dict[str, Any] | None = (snap.to_dict() or {}).get("source") if snap.exists else None
            listing_id = str(source.get("listing_id") or "") if source else ""
        if not listing_id or run.status not in ("succeeded", "failed"):
            return
        latency_ms = None
        if run.started_at is not None and run.finished_at is not None:
            latency_ms = (run.finished_at - run.started_at).total_seconds() * 1000
        record_run(
            str(listing_id), succeeded=run.status == "succeeded", latency_ms=latency_ms, cost_usd=run.cost_usd
        )
    except Exception:
        _log.exception("could not record the run in its listing's stats", extra={"run_id": run.id})
