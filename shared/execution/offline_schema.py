"""Minimal JSON values valid against a JSON Schema (the offline model's structured output)."""

from __future__ import annotations

from typing import Any, cast


def minimal_instance(schema: Any, root: Any = None) -> Any:
    """A small value valid against ``schema`` (the common JSON Schema keywords)."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    s = cast(dict[str, Any], schema)
    if "$ref" in s and isinstance(s["$ref"], str) and s["$ref"].startswith("#/"):
        target: Any = root
        for part in s["$ref"][2:].split("/"):
            target = cast(dict[str, Any], target).get(part, {}) if isinstance(target, dict) else {}
        return minimal_instance(target, root)
    if "const" in s:
        return s["const"]
    if isinstance(s.get("enum"), list) and s["enum"]:
        return cast(list[Any], s["enum"])[0]
    if "default" in s:
        return s["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = s.get(key)
        if isinstance(options, list) and options:
            if key == "allOf":
                merged: dict[str, Any] = {}
                for option in cast(list[Any], options):
                    value = minimal_instance(option, root)
                    if isinstance(value, dict):
                        merged.update(cast(dict[str, Any], value))
                return merged
            return minimal_instance(cast(list[Any], options)[0], root)
    kind = s.get("type")
    if isinstance(kind, list):
        kinds = [k for k in cast(list[Any], kind) if k != "null"] or ["null"]
        kind = kinds[0]
    if kind == "object" or (kind is None and "properties" in s):
        props = cast(dict[str, Any], s.get("properties") or {})
        required = cast(list[str], s.get("required") or [])
        return {name: minimal_instance(props.get(name, {}), root) for name in required}
    if kind == "array":
        count = int(s.get("minItems", 0) or 0)
        return [minimal_instance(s.get("items", {}), root) for _ in range(count)]
    if kind == "string":
        fmt = s.get("format")
        if fmt == "date-time":
            return "2024-01-01T00:00:00Z"
        if fmt == "date":
            return "2024-01-01"
        if fmt == "email":
            return "user@example.com"
        if fmt in ("uri", "url"):
            return "https://example.com"
        length = int(s.get("minLength", 0) or 0)
        return "offline" if length <= 7 else "x" * length
    if kind == "integer":
        return (
            int(s.get("minimum", 0) or 0) if "exclusiveMinimum" not in s else int(s["exclusiveMinimum"]) + 1
        )
    if kind == "number":
        if "exclusiveMinimum" in s:
            return float(s["exclusiveMinimum"]) + 1
        return float(s.get("minimum", 0) or 0)
    if kind == "boolean":
        return True
    return None
