"""Listing search: one index-backed Firestore query per page, planned from the parameters.

Every search filters ``deleted == false`` (+ ``category ==``), uses at most one array
clause on ``search_keys`` and orders by the sort key, then ``__name__`` (the id) — all
descending, so a cursor is ``(sort value, id)`` and ``start_after`` resumes exactly there.

The array clause: the longest query word (``array-contains``); with no words, the tags
(``tag:<t>``: ``array-contains`` for one tag, ``array-contains-any`` for one-of several).
Firestore allows one array clause per query, so further words (all must match) and tags
given together with words are checked here on the documents the query returns. That
post-filter is bounded: a page scans at most ``limit + 1 + MARKETPLACE_SEARCH_OVERFETCH``
documents; if the budget runs out first the page is short and ``next_cursor`` resumes
the scan. Without a post-filter a page reads exactly ``limit + 1`` documents.

:func:`query_shapes` enumerates the shape of every query this module can make;
``tests/test_indexes.py`` checks each against ``infra/firestore.indexes.json``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, cast

from shared import db
from shared.errors import BadRequest, ValidationFailed
from shared.marketplace.repository import LISTINGS, listing_ref, record_of
from shared.marketplace.schemas import ListingQuery, ListingRecord, SortOrder
from shared.marketplace.tokens import query_words, tag_key
from shared.pagination import decode_cursor, encode_cursor
from shared.settings import get_settings

Direction = Literal["ASCENDING", "DESCENDING"]
ArrayOp = Literal["array_contains", "array_contains_any"]

SORT_FIELDS: dict[SortOrder, str] = {
    "rating": "rating_avg",
    "installs": "installs",
    "recent": "published_at",
    # The service's eval of the newest evaluated version (-1 = not verified; shared.evals.verified).
    "verified": "verified_pass_rate",
}
ARRAY_FIELD = "search_keys"


@dataclass(frozen=True)
class QueryShape:
    """What a query needs from an index: equality fields, one array field, the orders."""

    collection: str
    equalities: tuple[str, ...] = ()
    array_field: str | None = None
    orders: tuple[tuple[str, Direction], ...] = ()


@dataclass(frozen=True)
class SearchPlan:
    equalities: dict[str, Any]
    sort: SortOrder
    array_op: ArrayOp | None = None
    array_values: tuple[str, ...] = ()
    # Checked on returned documents: every key in ``require_all``, one of ``require_any``.
    require_all: tuple[str, ...] = ()
    require_any: tuple[str, ...] = ()
    orders: tuple[tuple[str, Direction], ...] = field(default=())
    # Checked on returned documents: the verified pass rate is at least this.
    min_pass_rate: float | None = None

    @property
    def post_filtered(self) -> bool:
        return bool(self.require_all or self.require_any or self.min_pass_rate is not None)

    @property
    def shape(self) -> QueryShape:
        return QueryShape(
            collection=LISTINGS,
            equalities=tuple(sorted(self.equalities)),
            array_field=ARRAY_FIELD if self.array_op else None,
            orders=self.orders,
        )


def plan(words: list[str], tags: list[str], category: str | None, sort: SortOrder) -> SearchPlan:
    """The query for one search (``words`` longest first, as :func:`query_words` gives them)."""
    equalities: dict[str, Any] = {"deleted": False}
    if category is not None:
        equalities["category"] = category
    orders: tuple[tuple[str, Direction], ...] = (
        (SORT_FIELDS[sort], "DESCENDING"),
        ("__name__", "DESCENDING"),
    )
    tag_keys = tuple(tag_key(t) for t in tags)
    if words:
        return SearchPlan(
            equalities,
            sort,
            "array_contains",
            (words[0],),
            require_all=tuple(words[1:]),
            require_any=tag_keys,
            orders=orders,
        )
    if tag_keys:
        op: ArrayOp = "array_contains" if len(tag_keys) == 1 else "array_contains_any"
        return SearchPlan(equalities, sort, op, tag_keys, orders=orders)
    return SearchPlan(equalities, sort, orders=orders)


def query_shapes() -> list[QueryShape]:
    """Every query shape the marketplace makes (search over all parameter kinds, and the rest)."""
    shapes: dict[QueryShape, None] = {}
    for words, tags, category, sort in itertools.product(
        ([], ["one"], ["longer", "two"]), ([], ["a"], ["a", "b"]), (None, "coding"), SORT_FIELDS
    ):
        shapes[plan(words, tags, category, sort).shape] = None
    # Ratings of a listing, newest first (single field: automatic index).
    shapes[QueryShape("ratings", orders=(("updated_at", "DESCENDING"), ("__name__", "DESCENDING")))] = None
    # Category counts: equality filters only (merged single-field indexes).
    shapes[QueryShape(LISTINGS, equalities=("category", "deleted"))] = None
    # A listing's stat shards: the whole subcollection.
    shapes[QueryShape("stat_shards")] = None
    return list(shapes)


def _field_filter(name: str, op: str, value: Any) -> Any:
    from google.cloud.firestore import FieldFilter

    return FieldFilter(name, op, value)


def _base_query(search: SearchPlan) -> Any:
    query: Any = db.collection(LISTINGS)
    for name, value in search.equalities.items():
        query = query.where(filter=_field_filter(name, "==", value))
    if search.array_op == "array_contains":
        query = query.where(filter=_field_filter(ARRAY_FIELD, "array_contains", search.array_values[0]))
    elif search.array_op == "array_contains_any":
        query = query.where(
            filter=_field_filter(ARRAY_FIELD, "array_contains_any", list(search.array_values))
        )
    for name, direction in search.orders:
        query = query.order_by(name, direction=direction)
    return query


def _matches(search: SearchPlan, data: dict[str, Any]) -> bool:
    if (
        search.min_pass_rate is not None
        and float(data.get("verified_pass_rate", -1.0)) < search.min_pass_rate
    ):
        return False
    keys: set[str] = {str(k) for k in cast(list[Any], data.get(ARRAY_FIELD) or [])}
    if not all(k in keys for k in search.require_all):
        return False
    return not search.require_any or any(k in keys for k in search.require_any)


def _position(sort: SortOrder, record: ListingRecord) -> dict[str, Any]:
    value: Any = getattr(record, SORT_FIELDS[sort])
    return {"s": sort, "v": value.isoformat() if isinstance(value, datetime) else value, "i": record.id}


def _start_after(sort: SortOrder, cursor: str | None) -> dict[str, Any] | None:
    after = decode_cursor(cursor)
    if after is None:
        return None
    if after.get("s") != sort or not isinstance(after.get("i"), str):
        raise BadRequest("invalid cursor (it belongs to another sort order)", code="invalid_cursor")
    raw = after.get("v")
    try:
        value: Any
        if sort == "recent":
            value = datetime.fromisoformat(str(raw))
        elif sort == "installs":
            value = int(raw)  # pyright: ignore[reportArgumentType]
        else:
            value = float(raw)  # pyright: ignore[reportArgumentType]
    except (TypeError, ValueError):
        raise BadRequest("invalid cursor", code="invalid_cursor") from None
    return {SORT_FIELDS[sort]: value, "__name__": listing_ref(str(after["i"]))}


def search(params: ListingQuery) -> tuple[list[ListingRecord], str | None]:
    """One page of live listings matching ``params``, and the cursor of the next page."""
    words = query_words(params.q or "")
    if params.q is not None and params.q.strip() and not words:
        raise ValidationFailed.field("query.q", "needs at least one word of 2 or more letters or digits")
    search_plan = plan(words, params.tags or [], params.category, params.sort)
    if params.min_pass_rate is not None:
        search_plan = replace(search_plan, min_pass_rate=params.min_pass_rate)
    base = _base_query(search_plan)
    limit = params.limit
    budget = limit + 1 + (get_settings().marketplace_search_overfetch if search_plan.post_filtered else 0)
    after = _start_after(params.sort, params.cursor)
    matches: list[ListingRecord] = []
    scanned = 0
    exhausted = False
    last_scanned: ListingRecord | None = None
    while len(matches) <= limit and scanned < budget:
        needed = limit + 1 - len(matches)
        # First batch: exactly what the page needs; after a filtered-out miss, scan wider.
        size = min(budget - scanned, needed * 2 if scanned else needed)
        query = base.start_after(after) if after else base
        snaps = db.query(query.limit(size))
        scanned += len(snaps)
        for snap in snaps:
            data = snap.to_dict() or {}
            last_scanned = record_of(snap.id, data)
            if _matches(search_plan, data):
                matches.append(last_scanned)
        if len(snaps) < size:
            exhausted = True
            break
        if last_scanned is not None:
            sort_field = SORT_FIELDS[params.sort]
            after = {sort_field: getattr(last_scanned, sort_field), "__name__": listing_ref(last_scanned.id)}
    if len(matches) > limit:
        return matches[:limit], encode_cursor(_position(params.sort, matches[limit - 1]))
    if not exhausted and last_scanned is not None:
        return matches, encode_cursor(_position(params.sort, last_scanned))
    return matches, None
