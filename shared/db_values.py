"""Any JSON a user sends can be stored: values Firestore cannot hold natively are kept as text.

Users' free-form JSON (an agent's ``output_schema``, an eval case's ``expected_output`` and
``metadata``, a run's structured output, a remote MCP tool's input schema, ...) can hold what a
Firestore document cannot: map keys of the form ``__x__`` (reserved), empty or very long keys,
an array directly inside an array, integers outside 64 bits, more than 20 levels of nesting.
Writing such a value was a 500; ``shared.db`` passes every write through :func:`encode` and
every read through :func:`decode`, so the value comes back exactly as it was given.

A value Firestore cannot hold becomes ``{"~json": "<its JSON text>"}``. The encoding is
unambiguous: a user's own map with a ``~json`` key is itself stored as text. Everything else
is stored natively, so our own fields stay queryable and nothing changes for existing data.
"""

from __future__ import annotations

import json
from typing import Any, cast

MARK = "~json"
# Firestore allows 20 levels of maps and arrays; deeper values (and the wrapper's one level)
# stay below it.
_MAX_DEPTH = 16
# A field path is at most 1,500 bytes, the parents' names included.
_MAX_KEY_BYTES = 256
_INT64 = (-(2**63), 2**63 - 1)


def _unsafe_key(key: object) -> bool:
    if not isinstance(key, str):
        return True
    return (
        key == ""
        or key == MARK
        or (len(key) >= 4 and key.startswith("__") and key.endswith("__"))
        or len(key.encode("utf-8", "surrogatepass")) > _MAX_KEY_BYTES
    )


def _as_text(value: Any) -> Any:
    """``value`` as JSON text, or unchanged if it is not plain JSON (Firestore then decides)."""
    try:
        return {MARK: json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))}
    except (TypeError, ValueError):
        return value


def _encode(value: Any, depth: int) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else _as_text(value)
    if isinstance(value, dict):
        mapping = cast(dict[Any, Any], value)
        if depth > _MAX_DEPTH or any(_unsafe_key(k) for k in mapping):
            return _as_text(mapping)
        return {k: _encode(v, depth + 1) for k, v in mapping.items()}
    if isinstance(value, (list, tuple)):
        items: list[Any] = list(cast(Any, value))
        if depth > _MAX_DEPTH:
            return _as_text(items)
        # Firestore has no array directly inside an array.
        return [_as_text(v) if isinstance(v, (list, tuple)) else _encode(v, depth + 1) for v in items]
    return value  # datetimes, bytes, references, sentinels: Firestore's own types


def encode(data: dict[str, Any]) -> dict[str, Any]:
    """A document (or an update's field paths) ready for Firestore. Top-level keys are ours
    (field names or field paths) and are kept as they are."""
    return {key: _encode(value, 1) for key, value in data.items()}


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`, for a document read back."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if len(mapping) == 1 and isinstance(mapping.get(MARK), str):
            return json.loads(mapping[MARK])
        return {k: decode(v) for k, v in mapping.items()}
    if isinstance(value, list):
        return [decode(v) for v in cast(list[Any], value)]
    return value
