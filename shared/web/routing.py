"""Route tables: one per function, also the source of the OpenAPI document."""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from shared.auth.scopes import ROUTE_SCOPES
from shared.db import is_firestore_doc_id
from shared.errors import MethodNotAllowed, NotFound

if TYPE_CHECKING:
    from shared.web.context import RequestContext

Handler = Callable[["RequestContext"], Any]
# More field errors of a JSON body that failed its model (the parsed JSON, the request):
# semantic checks of the parts that are well-formed, so one 422 lists every problem.
BodyErrors = Callable[[Any, "RequestContext"], list[dict[str, Any]]]
AuthMode = Literal["public", "user", "optional"]
BodyKind = Literal["json", "raw", "none"]

_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(:path)?\}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    name: str
    summary: str = ""
    description: str = ""
    body: type[BaseModel] | None = None
    body_kind: BodyKind = "json"
    form_ok: bool = False
    form_body: type[BaseModel] | None = None
    # The body is only the OAuth2 form (``application/x-www-form-urlencoded``), never JSON.
    form_only: bool = False
    # The media type of a raw body (``body_kind="raw"``) the handler parses itself.
    raw_media_type: str = "application/octet-stream"
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    auth: AuthMode = "user"
    roles: frozenset[str] | None = None
    # The personal-access-token scope the route needs (shared.auth.scopes); None: PATs refused.
    scope: str | None = None
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    streams: bool = False
    response_media_type: str = "application/json"
    extra_responses: Mapping[int, str] = field(default_factory=dict[int, str])
    # Success statuses of ``extra_responses`` answered without a body (MCP's 202 to a notification).
    empty_responses: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()
    body_errors: BodyErrors | None = None
    pattern: re.Pattern[str] = field(default=re.compile(""), compare=False, repr=False)

    @property
    def path_params(self) -> list[str]:
        return [m.group(1) for m in _PARAM.finditer(self.path)]

    @property
    def openapi_path(self) -> str:
        return _PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)


def _compile(path: str) -> re.Pattern[str]:
    out: list[str] = []
    pos = 0
    for match in _PARAM.finditer(path):
        out.append(re.escape(path[pos : match.start()]))
        segment = ".+" if match.group(2) else "[^/]+"
        out.append(f"(?P<{match.group(1)}>{segment})")
        pos = match.end()
    out.append(re.escape(path[pos:]))
    return re.compile("^" + "".join(out) + "/?$")


_FILE_PATH_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*):path\}")
# Every id we issue matches this (uuid hex, and the ``<batch>-0003``-style ids derived from
# them); the OpenAPI document declares it for id path parameters.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_ID = re.compile(ID_PATTERN)
# Path parameters that are not ids (the OpenAPI document types them; their handlers parse them).
TYPED_PARAMS = frozenset({"version"})


def _addressable(route: Route, params: dict[str, str]) -> bool:
    """False when a parameter is not what the document declares: an id that does not match
    :data:`ID_PATTERN` names nothing (404, and never a Firestore error: ``.``, ``..``, ``__x__``)."""
    file_paths = set(_FILE_PATH_PARAM.findall(route.path))
    return all(
        name in file_paths
        or (name in TYPED_PARAMS and len(value) <= 100 and is_firestore_doc_id(value))
        or _ID.fullmatch(value) is not None
        for name, value in params.items()
    )


@dataclass
class _LazyGroup:
    """A route group (a module's ``routes`` router) imported when first needed."""

    module: str
    prefixes: tuple[str, ...]
    routes: list[Route] | None = None

    def covers(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)


class Router:
    """The routes of one Cloud Function, matched in declaration order."""

    def __init__(self, function: str, prefixes: tuple[str, ...]) -> None:
        self.function = function
        self.prefixes = prefixes
        self._entries: list[Route | _LazyGroup] = []
        self._loading = threading.Lock()

    @property
    def routes(self) -> list[Route]:
        """Every route in declaration order (imports the lazy groups)."""
        out: list[Route] = []
        for entry in self._entries:
            out.extend(self._load(entry) if isinstance(entry, _LazyGroup) else [entry])
        return out

    def include(self, *groups: Router) -> None:
        """Append the routes of groups declared in other modules (one module per concept), in
        order, after this router's own; a group must belong to the same function."""
        for group in groups:
            self._entries.extend(self._checked(group).routes)

    def include_lazily(self, module: str, prefixes: tuple[str, ...]) -> None:
        """Include the route group ``module.routes`` on the first request under one of
        ``prefixes`` (or when every route is listed): a cold instance's first request does not
        pay for importing the schemas of routes it does not call."""
        self._entries.append(_LazyGroup(module, prefixes))

    def _checked(self, group: Router) -> Router:
        if group.function != self.function:
            raise ValueError(f"a {group.function!r} route group in the {self.function!r} router")
        return group

    def _load(self, lazy: _LazyGroup) -> list[Route]:
        with self._loading:
            if lazy.routes is None:
                group: Router = self._checked(importlib.import_module(lazy.module).routes)
                stray = [route.path for route in group.routes if not lazy.covers(route.path)]
                if stray:
                    raise ValueError(f"{lazy.module} declares routes outside {lazy.prefixes}: {stray}")
                lazy.routes = group.routes
            return lazy.routes

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str = "",
        body: type[BaseModel] | None = None,
        body_kind: BodyKind = "json",
        form_ok: bool = False,
        form_body: type[BaseModel] | None = None,
        form_only: bool = False,
        raw_media_type: str = "application/octet-stream",
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        auth: AuthMode = "user",
        roles: set[str] | frozenset[str] | None = None,
        scope: str | None = None,
        tags: tuple[str, ...] = (),
        errors: tuple[int, ...] = (),
        streams: bool = False,
        response_media_type: str = "application/json",
        extra_responses: Mapping[int, str] | None = None,
        empty_responses: tuple[int, ...] = (),
        headers: tuple[str, ...] = (),
        body_errors: BodyErrors | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. ``form_body`` (with ``form_ok``) is the model of the form-encoded
        body a JSON route also accepts (kept for older clients, not in the document: one media
        type per operation); ``form_only`` makes ``body`` a form-only body; ``headers`` names
        the request headers the handler reads (documented from ``shared.web.openapi.REQUEST_HEADERS``);
        ``body_errors`` adds the semantic errors of a body that failed its model."""
        if scope is not None and scope not in ROUTE_SCOPES:
            raise ValueError(f"unknown scope {scope!r} on {method} {path}")

        def register(handler: Handler) -> Handler:
            self._entries.append(
                Route(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    name=handler.__name__,
                    summary=summary or (handler.__doc__ or "").strip().split("\n")[0],
                    description=(handler.__doc__ or "").strip(),
                    body=body,
                    body_kind=body_kind if (body is not None or body_kind == "raw") else "none",
                    form_ok=form_ok or form_body is not None,
                    form_body=form_body,
                    form_only=form_only,
                    raw_media_type=raw_media_type,
                    query=query,
                    response=response,
                    status=status,
                    auth=auth,
                    roles=frozenset(roles) if roles else None,
                    scope=scope,
                    tags=tags or (self.function,),
                    errors=errors,
                    streams=streams,
                    response_media_type=response_media_type,
                    extra_responses=dict(extra_responses or {}),
                    empty_responses=empty_responses,
                    headers=headers,
                    body_errors=body_errors,
                    pattern=_compile(path),
                )
            )
            return handler

        return register

    def _candidates(self, path: str) -> list[Route]:
        """The routes that may serve ``path``: a literal route (``/agents/health``) shadows the
        parameterised ones (``/agents/{agent_id}``), as the OpenAPI document lists them."""
        matching: list[Route] = []
        for entry in self._entries:
            if isinstance(entry, _LazyGroup):
                if entry.covers(path):
                    matching.extend(route for route in self._load(entry) if route.pattern.match(path))
            elif entry.pattern.match(path):
                matching.append(entry)
        literal = [route for route in matching if not route.path_params]
        return literal or matching

    def allowed_methods(self, path: str) -> list[str]:
        """The methods ``path`` answers (HEAD with GET, OPTIONS always); empty if no route."""
        methods = {route.method for route in self._candidates(path)}
        if not methods:
            return []
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods | {"OPTIONS"})

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route in self._candidates(path):
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                params = found.groupdict()
                if not _addressable(route, params):
                    raise NotFound("not found")
                return route, params
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(
                f"method {method} not allowed on {path}",
                headers={"Allow": ", ".join(self.allowed_methods(path))},
            )
        raise NotFound(f"no route for {path}", code="route_not_found")
