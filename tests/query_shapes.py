"""The index shape of a Firestore query as the data layer runs it (``shared.db.query_observers``).

The suite records the shape of every query it makes (``OBSERVED``); ``tests/test_indexes.py``
checks each against ``infra/firestore.indexes.json`` after all other tests ran.
"""

from __future__ import annotations

from typing import Any

from shared import db
from shared.marketplace.search import Direction, QueryShape

OBSERVED: set[QueryShape] = set()

_EQUALITY_OPS = {"EQUAL", "IN", "IS_NULL", "IS_NAN"}
_ARRAY_OPS = {"ARRAY_CONTAINS", "ARRAY_CONTAINS_ANY"}


def _flat_filters(filters: Any) -> list[Any]:
    flat: list[Any] = []
    for item in filters:
        nested = getattr(item, "filters", None)  # a composite (AND) filter
        flat.extend(_flat_filters(nested) if nested is not None else [item])
    return flat


def shape_of(query: Any, summed_field: str | None = None) -> QueryShape:
    """What an index must provide for ``query``, by Firestore's rules.

    Equality filters (``==``, ``in``, null checks) any order; an array-contains filter;
    then the explicit orders, followed by each inequality field not ordered explicitly
    (Firestore orders by it implicitly) and, for a sum, the summed field (it is read from
    the index).
    """
    if not hasattr(query, "_field_filters"):  # a whole collection
        return QueryShape(str(query.id))
    equalities: list[str] = []
    array_field: str | None = None
    inequalities: list[str] = []
    for condition in _flat_filters(query._field_filters):
        path = str(condition.field.field_path)
        op = condition.op.name
        if op in _EQUALITY_OPS:
            equalities.append(path)
        elif op in _ARRAY_OPS:
            array_field = path
        else:
            inequalities.append(path)
    orders: list[tuple[str, Direction]] = [
        (str(order.field.field_path), "DESCENDING" if int(order.direction) == 2 else "ASCENDING")
        for order in query._orders
    ]
    ordered = {name for name, _ in orders}
    for path in [*sorted(set(inequalities)), *([summed_field] if summed_field else [])]:
        if path not in ordered:
            orders.append((path, "ASCENDING"))
            ordered.add(path)
    return QueryShape(
        str(query._parent.id),
        equalities=tuple(sorted(set(equalities))),
        array_field=array_field,
        orders=tuple(orders),
    )


def _record(query: Any, summed_field: str | None) -> None:
    OBSERVED.add(shape_of(query, summed_field))


def install() -> None:
    if _record not in db.query_observers:
        db.query_observers.append(_record)


def encode(shapes: set[QueryShape]) -> list[list[Any]]:
    """Plain lists, so an xdist worker can hand its shapes to the controller."""
    return [[s.collection, list(s.equalities), s.array_field, [list(o) for o in s.orders]] for s in shapes]


def decode(rows: list[list[Any]]) -> set[QueryShape]:
    return {
        QueryShape(collection, tuple(equalities), array_field, tuple((name, way) for name, way in orders))
        for collection, equalities, array_field, orders in rows
    }
