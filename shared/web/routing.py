"""Route tables: one per function, also the source of the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from shared.auth.scopes import ROUTE_SCOPES
from shared.errors import MethodNotAllowed, NotFound

if TYPE_CHECKING:
    from shared.web.context import RequestContext

Handler = Callable[["RequestContext"], Any]
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
_RESERVED_ID = re.compile(r"^(\.|\.\.|__.*__)$")


def _addressable(route: Route, params: dict[str, str]) -> bool:
    """False when an id parameter could never name a document (Firestore refuses ``.``,
    ``..``, ``__x__`` and ids over 1500 bytes with an error that would otherwise be a 500)."""
    file_paths = set(_FILE_PATH_PARAM.findall(route.path))
    return all(
        name in file_paths
        or (not _RESERVED_ID.match(value) and len(value.encode("utf-8", "replace")) <= 1500)
        for name, value in params.items()
    )


class Router:
    """The routes of one Cloud Function, matched in declaration order."""

    def __init__(self, function: str, prefixes: tuple[str, ...]) -> None:
        self.function = function
        self.prefixes = prefixes
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str = "",
        body: type[BaseModel] | None = None,
        body_kind: BodyKind = "json",
        form_ok: bool = False,
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
    ) -> Callable[[Handler], Handler]:
        if scope is not None and scope not in ROUTE_SCOPES:
            raise ValueError(f"unknown scope {scope!r} on {method} {path}")

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    name=handler.__name__,
                    summary=summary or (handler.__doc__ or "").strip().split("\n")[0],
                    description=(handler.__doc__ or "").strip(),
                    body=body,
                    body_kind=body_kind if (body is not None or body_kind == "raw") else "none",
                    form_ok=form_ok,
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
                    pattern=_compile(path),
                )
            )
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route in self.routes:
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
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise NotFound(f"no route for {path}", code="route_not_found")
