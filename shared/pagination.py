"""Opaque list cursors and the page shape ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest

ItemT = TypeVar("ItemT")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Firestore's limit on the values of one ``in`` filter.
_MAX_IN_VALUES = 30


# What every list cursor looks like: unpadded base64url, as encode_cursor makes it. A string of
# this shape that we never issued (it decodes to no position) is still a 400: a cursor names a
# position in one listing and cannot be checked by its shape alone (docs/api-decisions.md).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_CURSOR_LENGTH = 2048
Cursor = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        pattern=CURSOR_PATTERN,
        description="the `next_cursor` of the previous page (opaque)",
    ),
]


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


class PageQuery(BaseModel):
    """``?limit=&cursor=`` of a list route that takes no other parameters."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: Cursor | None = None


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), sort_keys=True, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The values encoded in ``cursor``; a cursor we did not issue is a 400."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor", code="invalid_cursor") from None
    if not isinstance(value, dict):
        raise BadRequest("invalid cursor", code="invalid_cursor")
    return value  # pyright: ignore[reportUnknownVariableType]


def newest_first(
    collection: Any,
    *,
    equals: Mapping[str, object],
    limit: int,
    cursor: str | None,
    parse: Callable[[str, dict[str, Any]], ItemT],
    position: Callable[[ItemT], tuple[datetime, str]],
    order_field: str = "created_at",
    cursor_key: str = "c",
    one_of: tuple[str, Sequence[str]] | None = None,
) -> tuple[list[ItemT], str | None]:
    """One page of ``collection`` (a Firestore collection reference), newest first.

    The query is ``field == value`` for each of ``equals`` whose value is not None, then
    ``order_field`` desc, ``__name__`` desc — the shape the composite indexes in
    infra/firestore.indexes.json declare. ``one_of = (field, values)`` also keeps only items
    whose ``field`` is one of ``values`` (an ``in`` filter, which uses the same index as
    ``==``; more values than one ``in`` takes are queried in groups and merged in order).
    ``parse(doc_id, data)`` makes an item and ``position(item)`` gives its ``(order_field
    value, doc id)``; the cursor encodes them as ``{cursor_key: <ISO time>, "i": <doc id>}``.
    A cursor we could not have issued is a 400.
    """
    from google.cloud.firestore import FieldFilter, Query

    from shared import db

    query: Any = collection
    for field, value in equals.items():
        if value is not None:
            query = query.where(filter=FieldFilter(field, "==", value))
    query = query.order_by(order_field, direction=Query.DESCENDING).order_by(
        "__name__", direction=Query.DESCENDING
    )
    queries = [query]
    if one_of is not None:
        field, values = one_of
        wanted = list(dict.fromkeys(values))
        if not wanted:
            return [], None
        groups = [wanted[i : i + _MAX_IN_VALUES] for i in range(0, len(wanted), _MAX_IN_VALUES)]
        queries = [query.where(filter=FieldFilter(field, "in", group)) for group in groups]
    after = decode_cursor(cursor)
    if after is not None:
        try:
            at = datetime.fromisoformat(str(after[cursor_key]))
            last_id = str(after["i"])
        except (KeyError, ValueError):
            raise BadRequest("invalid cursor", code="invalid_cursor") from None
        if not db.is_valid_doc_id(last_id):
            raise BadRequest("invalid cursor", code="invalid_cursor")
        start = {order_field: at, "__name__": collection.document(last_id)}
        queries = [q.start_after(start) for q in queries]
    snaps = [snap for q in queries for snap in db.query(q.limit(limit + 1))]
    if len(queries) > 1:
        # Each group's page starts after the same position: merged, the newest are the page.
        snaps.sort(key=lambda s: ((s.to_dict() or {}).get(order_field), s.id), reverse=True)
    items = [parse(s.id, s.to_dict() or {}) for s in snaps[:limit]]
    next_cursor = None
    if len(snaps) > limit and items:
        last_at, last_id = position(items[-1])
        next_cursor = encode_cursor({cursor_key: last_at.isoformat(), "i": last_id})
    return items, next_cursor
