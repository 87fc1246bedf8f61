"""``serve``: the one place a request becomes a response and an error becomes HTTP."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import flask
from pydantic import BaseModel

from shared import db, logs
from shared.errors import Forbidden, NotFound, ServiceError, ServiceUnavailable
from shared.settings import get_settings
from shared.web.context import RequestContext
from shared.web.parsing import parse_json_body, parse_query, read_body
from shared.web.responses import Reply, json_response, no_content
from shared.web.routing import Router

if TYPE_CHECKING:
    from shared.auth.current import PendingPrincipal

_log = logging.getLogger("shared.web")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


def _request_id(request: flask.Request) -> str:
    incoming = request.headers.get("X-Request-Id", "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


# Paths whose errors take OpenAI's shape (the OpenAI-compatible API).
OPENAI_PATH_PREFIX = "/v1/"


def error_response(error: ServiceError, request_id: str, path: str = "") -> flask.Response:
    headers = dict(error.headers)
    headers["X-Request-Id"] = request_id
    if path.startswith(OPENAI_PATH_PREFIX):
        from shared.openai_compat.errors import error_object, status_of

        return json_response(error_object(error), status=status_of(error), headers=headers)
    return json_response(error.body(), status=error.status, headers=headers)


def to_service_error(exc: BaseException) -> ServiceError:
    """Map any exception to the error the caller sees (never its text)."""
    if isinstance(exc, ServiceError):
        return exc
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.ServiceUnavailable | gexc.DeadlineExceeded | gexc.RetryError):
        return ServiceUnavailable("a backend is unavailable", retry_after=2)
    return ServiceError("internal error")


def _render(result: Any, status: int) -> flask.Response:
    if isinstance(result, flask.Response):
        return result
    if isinstance(result, Reply):
        if result.body is None and result.status == 204:
            return no_content(result.headers)
        return json_response(result.body, status=result.status, headers=result.headers)
    if result is None:
        return no_content()
    if isinstance(result, BaseModel | dict | list):
        return json_response(result, status=status)
    raise TypeError(f"handler returned {type(result).__name__}")


def _apply_cors(request: flask.Request, response: flask.Response) -> None:
    origin = request.headers.get("Origin")
    allowed = get_settings().cors_origins()
    if origin and (origin in allowed or "*" in allowed):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, ETag, Retry-After, Location"


def _preflight(request: flask.Request, router: Router) -> flask.Response:
    """OPTIONS: the path's methods in ``Allow`` (RFC 9110) and, for a browser, the CORS
    preflight answer; a path no route serves is a 404 like any other method."""
    allowed = router.allowed_methods(request.path)
    if not allowed:
        raise NotFound(f"no route for {request.path}", code="route_not_found")
    response = flask.Response(status=204)
    response.headers["Allow"] = ", ".join(allowed)
    _apply_cors(request, response)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(allowed)
    response.headers["Access-Control-Allow-Headers"] = (
        "Authorization, Content-Type, Idempotency-Key, If-Match, Last-Event-ID, X-Request-Id"
    )
    response.headers["Access-Control-Max-Age"] = "3600"
    return response


def _handle(ctx: RequestContext) -> flask.Response:
    route = ctx.route
    if route.auth == "user":
        principal = ctx.principal
        if principal.scopes is not None:
            from shared.auth.scopes import check_route_scope

            check_route_scope(principal.scopes, route.scope)
        if route.roles and principal.role not in route.roles:
            raise Forbidden("this action needs one of the roles: " + ", ".join(sorted(route.roles)))
    for name in route.headers:
        value = ctx.request.headers.get(name)
        if value is not None:
            from shared.web.openapi import check_request_header

            check_request_header(name, value)
    limit = get_settings().max_body_bytes
    if route.query is not None:
        ctx.query = parse_query(ctx.request, route.query)
    if route.body is not None and route.body_kind == "json":
        body_errors = route.body_errors
        ctx.body = parse_json_body(
            ctx.request,
            route.body,
            limit,
            form_ok=route.form_ok,
            form_model=route.form_body,
            form_only=route.form_only,
            more_errors=(lambda value: body_errors(value, ctx)) if body_errors is not None else None,
        )
    return _render(route.handler(ctx), route.status)


def _handle_read(ctx: RequestContext, pending: PendingPrincipal) -> flask.Response:
    """A read-only request served from the token's claims while the user is re-read.

    The re-read still decides: nothing is sent before it confirms the user is active (else
    401, whatever the handler did), and if the role or name changed since the token was
    issued the request is handled again with the current principal (reads have no effects).
    """
    ctx.set_principal(pending.claimed)
    try:
        response = _handle(ctx)
    except Exception:
        confirmed = pending.confirmed.result()  # a 401 here supersedes the handler's error
        if confirmed == pending.claimed:
            raise
    else:
        confirmed = pending.confirmed.result()
        if confirmed == pending.claimed:
            return response
    ctx.set_principal(confirmed)
    return _handle(ctx)


def dispatch(request: flask.Request, router: Router, request_id: str) -> flask.Response:
    route, params = router.match(request.method, request.path)
    ctx = RequestContext(request, route, params, request_id)
    if route.auth == "user" and request.method in ("GET", "HEAD"):
        from shared.auth.current import start_principal_check

        pending = start_principal_check(request)
        if pending is not None:
            return _handle_read(ctx, pending)
    return _handle(ctx)


def serve(request: flask.Request, router: Router) -> flask.Response:
    """Handle one HTTP request for ``router``'s function: the body of every entry point."""
    logs.configure_logging()
    started = time.perf_counter()
    request_id = _request_id(request)
    logs.set_request_context(
        request_id,
        logs.parse_trace_headers(
            request.headers.get("X-Cloud-Trace-Context"), request.headers.get("traceparent")
        ),
    )
    with db.measure() as ops:
        try:
            if request.method == "OPTIONS":
                response = _preflight(request, router)
            else:
                response = dispatch(request, router, request_id)
        except ServiceError as exc:
            response = error_response(exc, request_id, request.path)
        except Exception as exc:
            error = to_service_error(exc)
            if error.status >= 500 and not isinstance(error, ServiceUnavailable):
                _log.exception("unhandled error")
            else:
                _log.warning("backend unavailable: %s", type(exc).__name__)
            response = error_response(error, request_id, request.path)
        # Drain an unread body so keep-alive connections stay usable.
        # gunicorn's request body (live processes) has no ``closed`` attribute.
        if request.content_length and not getattr(request.stream, "closed", False):
            try:
                read_body(request, get_settings().max_body_bytes * 16)
            except Exception:  # noqa: S110 - best effort
                pass
    response.headers["X-Request-Id"] = request_id
    _apply_cors(request, response)
    if get_settings().cost_headers_enabled:
        response.headers["X-Firestore-Reads"] = str(ops.reads)
        response.headers["X-Firestore-Writes"] = str(ops.writes)
    _log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "httpRequest": {
                "requestMethod": request.method,
                "requestUrl": request.path,
                "status": response.status_code,
                "latency": f"{time.perf_counter() - started:.6f}s",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "firestore": {"reads": ops.reads, "writes": ops.writes},
        },
    )
    return response


def _framework_error(exc: Exception) -> flask.Response:
    """Errors raised before ``serve`` runs (functions-framework's own URL rules refuse, e.g.,
    a path with a newline in it) get our JSON body instead of Werkzeug's HTML page."""
    from werkzeug.exceptions import HTTPException

    status = exc.code if isinstance(exc, HTTPException) and exc.code else 500
    code = "route_not_found" if status == 404 else ("method_not_allowed" if status == 405 else "bad_request")
    body = {"error": {"code": code, "message": "not found" if status == 404 else "malformed request"}}
    return json_response(body, status=status)


def install_framework_error_handler() -> None:
    """Register ``_framework_error`` on the functions-framework app being created (the
    framework binds ``errorhandler`` to it while it loads an entry module)."""
    import functions_framework
    from werkzeug.exceptions import HTTPException

    register: Any = getattr(functions_framework, "errorhandler", None)
    if register is not None:
        register(HTTPException)(_framework_error)
