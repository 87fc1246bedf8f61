"""Small edits to pydantic's JSON Schemas, so ``/openapi.json`` states what validation refuses."""

from __future__ import annotations

from typing import Any


def not_null(schema: dict[str, Any]) -> None:
    """An optional PATCH field whose ``null`` the validator refuses: document only the value
    (``Field(default=None, json_schema_extra=not_null)``; omitted still means unchanged)."""
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    schema.pop("default", None)
    if branches:
        schema.update(branches[0])


def some_field(schema: dict[str, Any]) -> None:
    """A PATCH body that must change something: at least one property
    (``ConfigDict(json_schema_extra=some_field)``)."""
    schema["minProperties"] = 1
