"""Every query the code makes is backed by an index declared in infra/ (the emulator never checks).

Two sources of query shapes: the marketplace planner enumerates every search it can build
(``query_shapes()``), so a new parameter combination is checked even before a test runs
it; and the data layer reports every query the suite actually runs (``tests/query_shapes``),
checked after all other tests, so no query anywhere escapes the check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.marketplace.search import QueryShape, query_shapes
from tests import query_shapes as observed_queries

INDEXES_FILE = Path(__file__).resolve().parent.parent / "infra" / "firestore.indexes.json"


def declared_indexes() -> list[dict[str, Any]]:
    return json.loads(INDEXES_FILE.read_text())["indexes"]


def needs_composite(shape: QueryShape) -> bool:
    """Single-field indexes serve one field, or equality filters only (index merging)."""
    orders = [name for name, _ in shape.orders if name != "__name__"]
    fields = {*shape.equalities, *orders, *([shape.array_field] if shape.array_field else [])}
    only_equalities = not orders and shape.array_field is None
    return len(fields) > 1 and not only_equalities


def covers(index: dict[str, Any], shape: QueryShape) -> bool:
    """Firestore's rule: equality (and the array) fields first in any order, then the orders exactly.

    ``__name__`` may be left out when it runs in the direction of the last order
    (Firestore appends it implicitly).
    """
    if (
        index.get("collectionGroup") != shape.collection
        or index.get("queryScope", "COLLECTION") != "COLLECTION"
    ):
        return False
    fields = [(f["fieldPath"], f.get("order") or f.get("arrayConfig")) for f in index["fields"]]
    orders = list(shape.orders)
    implicit_name = (
        orders and orders[-1][0] == "__name__" and (len(orders) == 1 or orders[-2][1] == orders[-1][1])
    )
    if implicit_name and fields and fields[-1][0] != "__name__":
        orders = orders[:-1]
    prefix_len = len(fields) - len(orders)
    if prefix_len < 0 or fields[prefix_len:] != orders:
        return False
    prefix = fields[:prefix_len]
    wanted = {(name, "EQ") for name in shape.equalities}
    if shape.array_field:
        wanted.add((shape.array_field, "CONTAINS"))
    got = {(name, "CONTAINS" if mode == "CONTAINS" else "EQ") for name, mode in prefix}
    return got == wanted and len(prefix) == len(wanted)


def uncovered(shapes: list[QueryShape], indexes: list[dict[str, Any]]) -> list[QueryShape]:
    return [s for s in shapes if needs_composite(s) and not any(covers(i, s) for i in indexes)]


def test_every_marketplace_query_has_a_declared_index() -> None:
    shapes = query_shapes()
    # All search parameter kinds are enumerated: 2 category states x 2 array states x 3 sorts.
    assert sum(1 for s in shapes if s.collection == "listings" and s.orders) == 16
    assert uncovered(shapes, declared_indexes()) == []


def test_the_check_fails_when_an_index_is_missing() -> None:
    indexes = declared_indexes()
    listing_indexes = [i for i in indexes if i["collectionGroup"] == "listings"]
    assert listing_indexes
    for missing in listing_indexes:
        rest = [i for i in indexes if i is not missing]
        assert uncovered(query_shapes(), rest), f"removing {missing['fields']} went unnoticed"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Orders in the wrong direction, or the array clause missing: not covering.
        ([("deleted", "ASCENDING"), ("search_keys", "CONTAINS"), ("installs", "ASCENDING")], False),
        ([("deleted", "ASCENDING"), ("installs", "DESCENDING")], False),
        ([("search_keys", "CONTAINS"), ("deleted", "ASCENDING"), ("installs", "DESCENDING")], True),
        ([("deleted", "ASCENDING"), ("search_keys", "CONTAINS"), ("installs", "DESCENDING")], True),
    ],
)
def test_covers_rule(fields: list[tuple[str, str]], expected: bool) -> None:
    shape = QueryShape(
        "listings",
        equalities=("deleted",),
        array_field="search_keys",
        orders=(("installs", "DESCENDING"), ("__name__", "DESCENDING")),
    )
    index = {
        "collectionGroup": "listings",
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": name, ("arrayConfig" if mode == "CONTAINS" else "order"): mode}
            for name, mode in fields
        ],
    }
    assert covers(index, shape) is expected


def test_declared_indexes_are_well_formed() -> None:
    for index in declared_indexes():
        assert index["collectionGroup"] and index["fields"]
        for field in index["fields"]:
            assert ("order" in field) != ("arrayConfig" in field), field


def _query(collection: str = "runs") -> Any:
    from google.cloud import firestore

    # Building a query needs no server; it is only inspected.
    return firestore.Client(project="index-shapes").collection(collection)


def test_shape_of_follows_firestore_index_rules() -> None:
    from google.cloud.firestore import FieldFilter, Query

    runs = _query()
    page = (
        runs.where(filter=FieldFilter("owner_id", "==", "u"))
        .where(filter=FieldFilter("status", "==", "queued"))
        .order_by("created_at", direction=Query.DESCENDING)
        .order_by("__name__", direction=Query.DESCENDING)
    )
    assert observed_queries.shape_of(page) == QueryShape(
        "runs",
        equalities=("owner_id", "status"),
        orders=(("created_at", "DESCENDING"), ("__name__", "DESCENDING")),
    )
    # An inequality is an implicit ascending order on its field; a sum reads its field from the index.
    overdue = runs.where(filter=FieldFilter("publish_pending", "==", True)).where(
        filter=FieldFilter("created_at", "<=", 5)
    )
    assert observed_queries.shape_of(overdue).orders == (("created_at", "ASCENDING"),)
    summed = runs.where(filter=FieldFilter("batch_id", "==", "b"))
    assert observed_queries.shape_of(summed, "cost_usd") == QueryShape(
        "runs", equalities=("batch_id",), orders=(("cost_usd", "ASCENDING"),)
    )
    events = runs.document("r").collection("events").order_by("seq")
    assert observed_queries.shape_of(events) == QueryShape("events", orders=(("seq", "ASCENDING"),))
    assert observed_queries.shape_of(_query("users")) == QueryShape("users")


def test_an_observed_query_without_its_index_is_reported() -> None:
    from google.cloud.firestore import FieldFilter

    unindexed = _query().where(filter=FieldFilter("agent_id", "==", "a")).order_by("cost_usd")
    assert uncovered([observed_queries.shape_of(unindexed)], declared_indexes())
    summed = _query().where(filter=FieldFilter("batch_id", "==", "b"))
    without_sum_index = [
        i for i in declared_indexes() if [f["fieldPath"] for f in i["fields"]] != ["batch_id", "cost_usd"]
    ]
    assert uncovered([observed_queries.shape_of(summed, "cost_usd")], without_sum_index)


def unindexed_observed_queries() -> list[QueryShape]:
    return uncovered(sorted(observed_queries.OBSERVED, key=repr), declared_indexes())


@pytest.mark.after_all
def test_every_query_the_suite_ran_has_a_declared_index(request: pytest.FixtureRequest) -> None:
    """After all other tests: each query shape the data layer saw is served by a declared index."""
    if hasattr(request.config, "workerinput"):
        pytest.skip("under xdist the controller checks every worker's queries after all of them")
    if not observed_queries.OBSERVED:
        pytest.skip("no test that queries Firestore ran in this session")
    assert unindexed_observed_queries() == []
