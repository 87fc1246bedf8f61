"""Synthetic marketplace listings written straight to Firestore (scale tests and benchmarks).

Documents have the shape ``shared.marketplace`` stores, with search keys computed by the
same tokenizer, so searches over them behave as over published listings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

CHUNK = 500
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def listing_doc(i: int, category: str, *, marker: bool = False, deleted: bool = False) -> dict[str, Any]:
    """Listing number ``i``: tags ``t<i % 20>`` and ``common``; with ``marker`` its description
    also holds the unique word ``marker<i>`` (a rare search term)."""
    from shared.marketplace.tokens import listing_keys

    name = f"agent-{i:05d}"
    tags = [f"t{i % 20}", "common"]
    description = f"Helpful assistant number {i}" + (f" marker{i}" if marker else "")
    when = BASE_TIME + timedelta(seconds=i)
    return {
        "agent_id": f"agent{i}",
        "owner_id": "seed-owner",
        "owner_username": "seeder",
        "name": name,
        "display_name": None,
        "description": description,
        "summary": "",
        "category": category,
        "tags": tags,
        "version": 1,
        "definition": {
            "name": name,
            "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
            "system_prompt": "You help.",
        },
        "published_at": when,
        "updated_at": when,
        "search_keys": listing_keys(
            name=name, display_name=None, description=description, summary="", tags=tags
        ),
        "deleted": deleted,
        "removed_by_moderation": False,
        "rating_avg": (i % 50) / 10,
        "rating_count": i % 7,
        "installs": i % 997,
        "stats": {"rating_avg": (i % 50) / 10 or None, "rating_count": i % 7, "installs": i % 997},
    }


def seed(
    start: int,
    stop: int,
    categories: Sequence[str],
    *,
    marker: bool = False,
    deleted: Callable[[int], bool] = lambda i: False,
) -> None:
    """Write listings ``seed<start>`` … ``seed<stop - 1>`` in batches of ``CHUNK``."""
    from shared import db

    listings = db.collection("listings")
    for chunk in range(start, stop, CHUNK):

        def build(batch: db.CountingWrites, chunk: int = chunk) -> None:
            for i in range(chunk, min(chunk + CHUNK, stop)):
                doc = listing_doc(i, categories[i % len(categories)], marker=marker, deleted=deleted(i))
                batch.set(listings.document(f"seed{i:05d}"), doc)

        db.commit_batch(build)
