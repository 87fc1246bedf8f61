"""The `auth` Cloud Function: /auth (see API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.health import HealthReport, health_report
from shared.web import RequestContext, Router, serve

router = Router("auth", ("/auth",))


@router.route("GET", "/auth/health", auth="public", response=HealthReport)
def health(ctx: RequestContext) -> dict[str, object]:
    """Which backends this function reaches (503 when one is down)."""
    return health_report("auth", ("firestore",))


@functions_framework.http
def auth_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
