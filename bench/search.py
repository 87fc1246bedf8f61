"""Figure 7 — marketplace search p50 and reads per search at 100, 1,000 and 10,000 listings.

Listings are seeded straight into Firestore (the shape ``shared.marketplace`` publishes),
then ``GET /marketplace/listings`` runs through the marketplace function's app for a few
query kinds. The floor of each search is the bare Firestore query of the same shape (``limit + 1``
documents), interleaved with the searches.

The Firestore emulator has no indexes: it scans the collection for every query, so its
latency grows with the collection even for the floor. Production Firestore serves these
queries from the composite indexes in infra/firestore.indexes.json, where cost and latency
follow the page size. The ratio to the floor and the reads per search are the figures to
watch: both should stay flat as the collection grows.
"""

from __future__ import annotations

from typing import Any

from bench._stack import Api, Figure, Stack, cost, expect, interleaved, ms, percentile

SIZES = (100, 1_000, 10_000)
ROUNDS = 9
LIMIT = 20
QUERIES = {
    "newest (no filter)": f"/marketplace/listings?limit={LIMIT}",
    "text q=helpful": f"/marketplace/listings?q=helpful&limit={LIMIT}",
    "tag=common, sort=rating": f"/marketplace/listings?tags=common&sort=rating&limit={LIMIT}",
    "category, sort=installs": f"/marketplace/listings?category={{category}}&sort=installs&limit={LIMIT}",
}


def _seed(start: int, stop: int, categories: list[str]) -> None:
    from tools.seed_listings import seed

    seed(start, stop, categories)


def _floor_query(name: str, category: str) -> Any:
    """The bare Firestore query of the same shape the search makes (``limit + 1`` documents)."""
    from shared.marketplace import search

    plans = {
        "newest (no filter)": search.plan([], [], None, "recent"),
        "text q=helpful": search.plan(["helpful"], [], None, "recent"),
        "tag=common, sort=rating": search.plan([], ["common"], None, "rating"),
        "category, sort=installs": search.plan([], [], category, "installs"),
    }
    return search._base_query(plans[name]).limit(LIMIT + 1)  # pyright: ignore[reportPrivateUsage]


def run(stack: Stack) -> Figure:
    from shared import db
    from shared.marketplace.categories import CATEGORIES

    stack.wipe()
    categories = [c.id for c in CATEGORIES]
    market = Api("marketplace")
    figure = Figure(
        "7. Marketplace search (page of 20)",
        ["listings", "query", "p50 ms", "floor p50 ms", "ratio", "reads per search"],
    )
    seeded = 0
    for size in SIZES:
        _seed(seeded, size, categories)
        seeded = size
        paths = {name: path.format(category=categories[0]) for name, path in QUERIES.items()}
        reads = {name: cost(expect(market.call("GET", path)))[0] for name, path in paths.items()}
        subjects: dict[str, Any] = {}
        for name, path in paths.items():
            floor_query = _floor_query(name, categories[0])
            subjects["floor " + name] = lambda floor_query=floor_query: db.query(floor_query)
            subjects[name] = lambda path=path: expect(market.call("GET", path))
        samples = interleaved(subjects, ROUNDS, warmup=1)
        for name in paths:
            p50 = percentile(samples[name], 50)
            floor_p50 = percentile(samples["floor " + name], 50)
            figure.rows.append(
                [f"{size:,}", name, ms(p50), ms(floor_p50), f"{p50 / floor_p50:.2f}x", str(reads[name])]
            )
    figure.notes.append(
        f"- {ROUNDS} interleaved samples per query and size. Reads per search stay at the page size + 1 "
        "(the look-ahead that decides `next_cursor`) whatever the collection size: flat."
    )
    figure.notes.append(
        "- Absolute latency grows with the collection because the emulator scans instead of using an index "
        "(the floor query of the same shape grows the same way; array-contains queries most); "
        "the ratio to the floor is the service's own share."
    )
    return figure
