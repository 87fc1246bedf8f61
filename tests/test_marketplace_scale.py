"""Search cost stays at about the page size with 10,000 listings in the emulator (issue 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import db
from shared.marketplace.categories import CATEGORIES
from shared.marketplace.tokens import listing_keys
from shared.settings import get_settings
from tests.conftest import ApiClient

TOTAL = 10_000
CHUNK = 500
DEFINITION = {
    "name": "seeded",
    "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
    "system_prompt": "You help.",
}


def _listing(i: int, base: datetime) -> dict[str, Any]:
    name = f"agent-{i:05d}"
    tags = [f"t{i % 20}", "common"]
    description = f"Helpful assistant number {i} marker{i}"
    category = CATEGORIES[i % len(CATEGORIES)].id
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
        "definition": {**DEFINITION, "name": name},
        "published_at": base + timedelta(seconds=i),
        "updated_at": base + timedelta(seconds=i),
        "search_keys": listing_keys(
            name=name, display_name=None, description=description, summary="", tags=tags
        ),
        "deleted": i % 100 == 0,
        "removed_by_moderation": False,
        "rating_avg": (i % 50) / 10,
        "rating_count": i % 7,
        "installs": i % 997,
        "stats": {"rating_avg": (i % 50) / 10 or None, "rating_count": i % 7, "installs": i % 997},
    }


@pytest.fixture
def seeded() -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    listings = db.collection("listings")
    for start in range(0, TOTAL, CHUNK):

        def build(batch: db.CountingWrites, start: int = start) -> None:
            for i in range(start, min(start + CHUNK, TOTAL)):
                batch.set(listings.document(f"seed{i:05d}"), _listing(i, base))

        db.commit_batch(build)


def _page(api: ApiClient, **params: Any) -> tuple[dict[str, Any], int]:
    response = api.get("/marketplace/listings", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json(), int(response.headers["X-Firestore-Reads"])


@pytest.mark.slow
def test_search_reads_about_the_page_size_over_10000_listings(
    marketplace_api: ApiClient, seeded: None
) -> None:
    limit = 20
    # Every sort on the cheap shapes; one sort per array shape (the emulator scans every
    # document for array clauses, ~2 s each at this size; production reads the index).
    cases: list[tuple[dict[str, Any], str]] = [
        *(({}, sort) for sort in ("rating", "installs", "recent")),
        *(({"category": "coding"}, sort) for sort in ("rating", "installs", "recent")),
        ({"q": "assistant"}, "installs"),
        ({"q": "agent"}, "rating"),
        ({"tags": "t3"}, "recent"),
        ({"q": "helpful", "category": "data"}, "installs"),
    ]
    for case, sort in cases:
        page, reads = _page(marketplace_api, limit=limit, sort=sort, **case)
        assert len(page["items"]) == limit, (case, sort)
        assert page["next_cursor"]
        # limit + 1 documents (one to know there is a next page), nothing else.
        assert reads <= limit + 1, (case, sort, reads)
        second, reads = _page(marketplace_api, limit=limit, sort=sort, cursor=page["next_cursor"], **case)
        assert reads <= limit + 1, (case, sort, reads)
        assert not {i["id"] for i in page["items"]} & {i["id"] for i in second["items"]}
        key = {"rating": "rating_avg", "installs": "installs", "recent": None}[sort]
        if key:
            values = [i["stats"][key] or 0 for i in page["items"] + second["items"]]
            assert values == sorted(values, reverse=True), (case, sort)
        else:
            stamps = [i["published_at"] for i in page["items"] + second["items"]]
            assert stamps == sorted(stamps, reverse=True)
        assert all(int(i["id"][4:]) % 100 != 0 for i in page["items"] + second["items"])
    # A rare word: the index finds the one document; deleted listings are never returned.
    page, reads = _page(marketplace_api, q="marker4242")
    assert [i["id"] for i in page["items"]] == ["seed04242"] and reads <= 2
    page, _ = _page(marketplace_api, q="marker4200")
    assert page["items"] == []
    # Several words / text plus tags are post-filtered: bounded by the overfetch budget.
    budget = limit + 1 + get_settings().marketplace_search_overfetch
    page, reads = _page(marketplace_api, q="helpful assistant", limit=limit)
    assert len(page["items"]) == limit and reads <= limit + 1
    page, reads = _page(marketplace_api, q="assistant", tags="t7", limit=limit)
    assert reads <= budget
    assert page["items"] and all("t7" in i["tags"] for i in page["items"]) and page["next_cursor"]
