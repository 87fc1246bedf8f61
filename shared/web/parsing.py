"""Request parsing: body size limit, content type, strict JSON, pydantic validation."""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Callable
from typing import Any

import flask
from pydantic import BaseModel, ValidationError

from shared.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MAX_JSON_DEPTH = 64


def read_body(request: flask.Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes", details={"limit_bytes": limit})
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes", details={"limit_bytes": limit})
    return data


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadRequest(f"duplicate key {key!r} in JSON object", code="malformed_json")
        result[key] = value
    return result


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _not_a_json_number(literal: str) -> Any:
    raise BadRequest(f"{literal} is not a JSON number", code="malformed_json")


def _depth_ok(value: Any) -> bool:
    """Also False for a string (or key) with a lone surrogate (``"\\ud800"`` is valid JSON but
    not Unicode text: it cannot be stored or encoded, so it would fail later as a 500), and for
    a number too large for a double (``1e400``)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        if isinstance(item, str) and _has_lone_surrogate(item):
            return False
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            if any(_has_lone_surrogate(k) for k in item):  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
                return False
            stack.extend((v, depth + 1) for v in item.values())  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    return True


def parse_json(data: bytes) -> Any:
    if not data.strip():
        raise BadRequest("request body is empty; a JSON document is required", code="malformed_json")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_not_a_json_number)
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8", code="malformed_json") from None
    except RecursionError:
        raise BadRequest("JSON is nested too deeply", code="malformed_json") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            code="malformed_json",
            details={"line": exc.lineno, "column": exc.colno},
        ) from None
    if not _depth_ok(value):
        raise BadRequest(
            f"JSON is nested deeper than {MAX_JSON_DEPTH} levels, has a string that is not valid "
            "Unicode (a lone surrogate escape) or a number too large for a double",
            code="malformed_json",
        )
    return value


def is_json_content_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def format_loc(parts: tuple[int | str, ...] | list[int | str]) -> str:
    """A field location as users read it: ``tools[1].config.max_bytes``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_details(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """Field errors without the offending input (it may be a password)."""
    fields: list[dict[str, Any]] = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = format_loc(err["loc"])
        fields.append(
            {
                "loc": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return fields


def _whole_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_whole_floats_as_ints(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def validate_model(
    model: type[BaseModel], value: Any, *, prefix: str = "", strict_json: bool = False
) -> BaseModel:
    """``value`` as ``model``, or 422 naming the fields. ``strict_json``: a parsed JSON body is
    held to its JSON types exactly as the document states them (no ``"5"`` or ``false`` for an
    integer, no ``"yes"`` for a boolean); query strings and forms are text and stay lax."""
    try:
        if strict_json:
            # Types are checked strictly; a whole float (``3.0``) is a JSON Schema integer, so
            # it counts as one. The value itself is then read as sent (``3.0`` stays a float
            # in free-form fields).
            model.model_validate_json(json.dumps(_whole_floats_as_ints(value)), strict=True)
        return model.model_validate(value)
    except ValidationError as exc:
        fields = validation_details(exc, prefix)
        names = ", ".join(f["loc"] for f in fields[:5])
        raise ValidationFailed(f"invalid request: {names}", details={"fields": fields}) from None


def parse_json_body(
    request: flask.Request,
    model: type[BaseModel],
    limit: int,
    *,
    form_ok: bool,
    form_model: type[BaseModel] | None = None,
    form_only: bool = False,
    more_errors: Callable[[Any], list[dict[str, Any]]] | None = None,
) -> BaseModel:
    mimetype = (request.mimetype or "").lower()
    if form_only and mimetype != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType(
            f"content type {mimetype or 'none'!r} is not supported; send application/x-www-form-urlencoded",
            details={"supported": ["application/x-www-form-urlencoded"]},
        )
    if (form_ok or form_only) and mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Werkzeug enforces the limit while it parses the form (reading the stream here
        # first would leave request.form empty).
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes", details={"limit_bytes": limit})
        request.max_content_length = limit
        request.max_form_memory_size = limit
        from werkzeug.exceptions import RequestEntityTooLarge

        try:
            form = request.form.to_dict()
        except RequestEntityTooLarge:
            raise PayloadTooLarge(
                f"request body exceeds {limit} bytes", details={"limit_bytes": limit}
            ) from None
        if form_model is None:
            return validate_model(model, form)
        return model.model_validate(
            validate_model(form_model, form).model_dump(include=set(model.model_fields))
        )
    if not is_json_content_type(mimetype):
        raise UnsupportedMediaType(
            f"content type {mimetype or 'none'!r} is not supported; send application/json",
            details={"supported": ["application/json"]},
        )
    value = parse_json(read_body(request, limit))
    try:
        return validate_model(model, value, strict_json=True)
    except ValidationFailed as exc:
        if more_errors is not None:
            fields: list[dict[str, Any]] = exc.details["fields"]
            reported = {f["loc"] for f in fields}
            fields.extend(f for f in more_errors(value) if f["loc"] not in reported)
        raise


def _is_list_field(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list_field(arg) for arg in typing.get_args(annotation))
    return False


def parse_query(request: flask.Request, model: type[BaseModel]) -> BaseModel:
    raw: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in request.args:
            continue
        if _is_list_field(field.annotation):
            values = [part.strip() for v in request.args.getlist(key) for part in v.split(",")]
            raw[key] = [v for v in values if v]
        elif len(request.args.getlist(key)) > 1:
            raise ValidationFailed.field(f"query.{key}", "given more than once", error_type="single_value")
        else:
            raw[key] = request.args.get(key)
    unknown = sorted(set(request.args) - {f.alias or n for n, f in model.model_fields.items()})
    if unknown and model.model_config.get("extra") == "forbid":
        raise ValidationFailed.field(unknown[0], "unknown query parameter", error_type="extra_forbidden")
    return validate_model(model, raw, prefix="query.")
