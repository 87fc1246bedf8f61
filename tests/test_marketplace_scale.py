"""Search cost stays at about the page size with 10,000 listings in the emulator (issue 7)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.marketplace.categories import CATEGORIES
from shared.settings import get_settings
from tests.conftest import ApiClient
from tools.seed_listings import seed

TOTAL = 10_000


@pytest.fixture
def seeded() -> None:
    seed(0, TOTAL, [c.id for c in CATEGORIES], marker=True, deleted=lambda i: i % 100 == 0)


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
