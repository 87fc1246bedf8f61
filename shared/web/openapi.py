"""The OpenAPI 3.1 document, generated from the route tables and their pydantic models."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable
from typing import Any, cast

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from shared.auth.scopes import ANY_TOKEN, INTERACTIVE, SCOPES
from shared.web.routing import ID_PATTERN, Route, Router

_FILE_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*):path\}")

_REF = "#/components/schemas/{model}"

_STATUS_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "Not allowed",
    404: "Not found",
    406: "Not acceptable (the Accept header)",
    409: "Conflict",
    413: "Body too large",
    414: "URI too long (over 64 KiB: answered by the gateway, in the cloud by the load balancer)",
    415: "Unsupported content type",
    422: "Validation error",
    429: "Rate limited",
    502: "A server called on the caller's behalf failed",
    503: "A backend is unavailable",
}


# Request headers routes may declare (``Router.route(headers=...)``), as the handlers parse them.
REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "description": "Makes a retry of this request safe: the same key returns the first result.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
    },
    "If-Match": {
        "description": (
            'The agent version the change is based on (`3`, `"3"`, `W/"3"`; `*` = any): 409 if it moved on.'
        ),
        "schema": {"type": "string", "pattern": '^(\\*|(W/)?"?[0-9]{1,9}"?)$'},
    },
    "Last-Event-ID": {
        "description": "Resume an event stream after this event id.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
    },
}


def check_request_header(name: str, value: str) -> None:
    """A declared request header that is present must match its documented schema (400)."""
    from shared.errors import BadRequest

    schema = REQUEST_HEADERS[name]["schema"]
    if (
        len(value) < schema.get("minLength", 1)
        or len(value) > schema.get("maxLength", 8192)
        or re.fullmatch(schema["pattern"], value) is None
    ):
        raise BadRequest(
            f"the {name} header is malformed (pattern {schema['pattern']})",
            code="invalid_header",
            details={"header": name},
        )


# Path parameters: ids are at most 1500 bytes and never ``.``/``..``/``__x__`` (Firestore's
# rules); a workspace path is relative components without control characters or backslashes.
_ID_PARAM: dict[str, Any] = {"type": "string", "pattern": ID_PATTERN}
_TYPED_PARAMS: dict[str, dict[str, Any]] = {
    "version": {"type": "integer", "minimum": 1, "maximum": 999999999}
}
# A workspace path component: not `.` or `..`, no control characters, `\\` or `/`; dot-files
# (`.env`, `..notes`) allowed; only the first component may not start with `~` (the server's
# rules, shared.workspace.sandbox.normalize_path). At most 63 characters after the first, so
# 255 bytes of UTF-8 always fit: the byte limit itself cannot be said in JSON Schema.
_NAME_CHAR = "[^\\x00-\\x1f\\x7f\\\\/]"
_DOTTED = f"\\.[^\\x00-\\x1f\\x7f\\\\/.]|\\.\\.{_NAME_CHAR}"
_FIRST_COMPONENT = f"(?:[^\\x00-\\x1f\\x7f\\\\/.~]|{_DOTTED}){_NAME_CHAR}{{0,62}}"
_COMPONENT = f"(?:[^\\x00-\\x1f\\x7f\\\\/.]|{_DOTTED}){_NAME_CHAR}{{0,62}}"
_FILE_PATH_PARAM: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1024,
    "pattern": f"^{_FIRST_COMPONENT}(/{_COMPONENT})*$",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    args: tuple[Any, ...] = typing.get_args(annotation)
    return [m for arg in args for m in _models_of(arg)]


# The component reference of each route model, as pydantic names it (``Page[X]`` is
# ``Page_X_``), filled by ``build_openapi``.
_Refs = dict[type[BaseModel], dict[str, str]]


def _schema_for(annotation: Any, components: dict[str, Any], refs: _Refs) -> dict[str, Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return dict(refs[annotation])
    adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, annotation))
    schema = adapter.json_schema(ref_template=_REF)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def _error_statuses(route: Route) -> list[int]:
    statuses = set(route.errors)
    if route.path_params:
        statuses |= {404}  # a parameter that is not what the document declares names nothing
    if route.auth == "user":
        statuses |= {401}
    if route.roles or (route.auth == "user" and route.scope != ANY_TOKEN):
        # 403 also for a personal access token without the route's scope.
        statuses |= {403}
    if route.body is not None:
        statuses |= {400, 413, 415, 422}
    if route.body_kind == "raw":
        statuses |= {400, 413}
    if route.headers:
        statuses |= {400}  # a declared header that does not match its schema (invalid_header)
    if route.query is not None:
        # 422 for a parameter out of range; 400 for one that is malformed (e.g. a cursor we never issued).
        statuses |= {400, 422}
    statuses |= {414, 503}  # 414: any request line over 64 KiB, before routing
    return sorted(statuses)


def _operation(route: Route, components: dict[str, Any], refs: _Refs) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary or route.name.replace("_", " "),
        "tags": list(route.tags),
    }
    if route.description and route.description != route.summary:
        op["description"] = route.description
    file_params = set(_FILE_PARAM.findall(route.path))
    params: list[dict[str, Any]] = [
        {
            "name": p,
            "in": "path",
            "required": True,
            "schema": dict(_FILE_PATH_PARAM if p in file_params else _TYPED_PARAMS.get(p, _ID_PARAM)),
        }
        for p in route.path_params
    ]
    for header in route.headers:
        params.append({"name": header, "in": "header", "required": False, **REQUEST_HEADERS[header]})
    if route.query is not None:
        qschema = route.query.model_json_schema(ref_template=_REF)
        for name, definition in qschema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        required = set(qschema.get("required", []))
        for name, prop in qschema.get("properties", {}).items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
            }
            if prop.get("type") == "array" or any(a.get("type") == "array" for a in prop.get("anyOf", [])):
                param["style"] = "form"
                param["explode"] = False
            params.append(param)
    if params:
        op["parameters"] = params
    if route.body is not None:
        # One media type per operation: client generators (openapi-python-client) cannot
        # type a body that has two. A JSON route's legacy form (``form_ok``) is described in
        # prose only; the form-only OAuth2 token endpoint declares just the form.
        media = "application/x-www-form-urlencoded" if route.form_only else "application/json"
        op["requestBody"] = {
            "required": True,
            "content": {media: {"schema": dict(refs[route.body])}},
        }
    elif route.body_kind == "raw":
        op["requestBody"] = {
            "required": True,
            "content": {
                route.raw_media_type: {
                    "schema": {"type": "object"}
                    if route.raw_media_type == "application/json"
                    else {"type": "string", "format": "binary"}
                }
            },
        }
    responses: dict[str, Any] = {}
    if route.status == 204 or (route.response is None and route.status == 204):
        responses["204"] = {"description": "No content"}
    elif route.streams:
        # JSON first: generated clients type the response by the first media type.
        content = {}
        if route.response is not None:
            content["application/json"] = {"schema": _schema_for(route.response, components, refs)}
        content["text/event-stream"] = {"schema": {"type": "string"}}
        responses[str(route.status)] = {"description": "JSON, or an event stream", "content": content}
    elif route.response_media_type != "application/json":
        # Alternatives (``"application/yaml, text/plain"``) are negotiated by ``Accept``;
        # text is a string, YAML is described as the document it parses to (the route's
        # ``response``), the rest bytes.
        content = {}
        for media in (m.strip() for m in route.response_media_type.split(",")):
            if media.endswith(("/yaml", "+yaml")) and route.response is not None:
                content[media] = {"schema": _schema_for(route.response, components, refs)}
            elif media.startswith("text/") or media.endswith(("/yaml", "+yaml")):
                content[media] = {"schema": {"type": "string"}}
            else:
                content[media] = {"schema": {"type": "string", "format": "binary"}}
        responses[str(route.status)] = {"description": "Content", "content": content}
    else:
        body: dict[str, Any] = {"description": "Success"}
        if route.response is not None:
            body["content"] = {"application/json": {"schema": _schema_for(route.response, components, refs)}}
        responses[str(route.status)] = body
    for status, text in route.extra_responses.items():
        extra: dict[str, Any] = {"description": text}
        bodiless = status == 204 or status in route.empty_responses
        if 200 <= status < 300 and not bodiless and route.response is not None:
            # Another success status of the same resource (202 queued, 200 replaced): same body.
            extra["content"] = {"application/json": {"schema": _schema_for(route.response, components, refs)}}
        responses.setdefault(str(status), extra)
    for status in _error_statuses(route):
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": dict(refs[ErrorBody])}},
        }
    op["responses"] = responses
    if route.auth == "user":
        security: list[dict[str, list[str]]] = [{"bearerAuth": []}]
        if route.scope is not None and route.scope != INTERACTIVE:
            # OpenAPI 3.1 lets non-OAuth schemes list required "roles": the token's scope.
            security.append({"personalAccessToken": [] if route.scope == ANY_TOKEN else [route.scope]})
        op["security"] = security
    elif route.auth == "optional":
        op["security"] = [{}, {"bearerAuth": []}]
    else:
        op["security"] = []
    return op


def _hoist_variants(components: dict[str, Any]) -> None:
    """Inline object branches of a ``oneOf`` (``AgentDefinition``'s forms) become named
    components, so client generators give each form a class instead of failing on it."""
    schemas: list[dict[str, Any]] = list(components.values())
    for schema in schemas:
        branches: list[Any] = schema.get("oneOf", [])
        for index, branch in enumerate(branches):
            if not isinstance(branch, dict):
                continue
            form = cast(dict[str, Any], branch)
            if form.get("type") == "object" and "title" in form:
                title = str(form["title"])
                components.setdefault(title, form)
                branches[index] = {"$ref": _REF.format(model=title)}


def build_openapi(routers: Iterable[Router], *, version: str = "0.1.0") -> dict[str, Any]:
    routers = list(routers)
    models: dict[type[BaseModel], None] = {ErrorBody: None}
    for router in routers:
        for route in router.routes:
            for m in [route.body, *(_models_of(route.response) if route.response is not None else [])]:
                if m is not None:
                    models[m] = None
    ref_map, top = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    refs: _Refs = {
        model: {"$ref": ref["$ref"]} for (model, _), ref in ref_map.items() if issubclass(model, BaseModel)
    }
    components: dict[str, Any] = dict(top.get("$defs", {}))
    _hoist_variants(components)
    paths: dict[str, dict[str, Any]] = {}
    for router in routers:
        for route in router.routes:
            paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(
                route, components, refs
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agents service",
            "version": version,
            "description": "Pydantic AI agents on Google Cloud: auth, agents, runs, marketplace.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "a login session's access token (or a Firebase ID token): every scope",
                },
                "personalAccessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "agpat_",
                    "description": "a personal access token (POST /auth/tokens); the operation lists the "
                    "scope it needs: " + ", ".join(SCOPES),
                },
            },
        },
    }
