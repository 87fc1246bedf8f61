"""The `automation` Cloud Function: /webhooks and /schedules (see API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.health import HealthReport, health_report
from shared.pagination import PageQuery
from shared.runs.schemas import RunPage, RunPublic
from shared.schedules import service as schedules
from shared.schedules.schemas import ScheduleCreate, SchedulePage, SchedulePublic, ScheduleUpdate
from shared.web import Reply, RequestContext, Router, serve
from shared.webhooks import service as webhooks
from shared.webhooks.schemas import (
    DeliveryPage,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
    WebhookUpdate,
)

router = Router("automation", ("/webhooks", "/schedules"))


@router.route("GET", "/webhooks/health", auth="public", response=HealthReport)
def health(ctx: RequestContext) -> dict[str, object]:
    """Which backends this function reaches (503 when one is down)."""
    return health_report("automation", ("firestore", "pubsub"))


@router.route(
    "POST",
    "/webhooks",
    body=WebhookCreate,
    response=WebhookCreated,
    status=201,
    errors=(409,),
    scope="webhooks",
)
def create_webhook(ctx: RequestContext) -> Reply:
    """Register an endpoint for events; the answer holds its signing secret (shown only now)."""
    created = webhooks.create(ctx.principal, ctx.body)
    return Reply(created, status=201, headers={"Location": f"/webhooks/{created.webhook.id}"})


@router.route("GET", "/webhooks", query=PageQuery, response=WebhookPage, errors=(400,), scope="webhooks")
def list_webhooks(ctx: RequestContext) -> WebhookPage:
    """My webhook endpoints, newest first (cursor-paginated)."""
    q: PageQuery = ctx.query
    return webhooks.list_mine(ctx.principal, limit=q.limit, cursor=q.cursor)


@router.route("GET", "/webhooks/{webhook_id}", response=WebhookPublic, errors=(404,), scope="webhooks")
def get_webhook(ctx: RequestContext) -> WebhookPublic:
    """One of my endpoints (never its secret)."""
    return webhooks.get(ctx.principal, ctx.params["webhook_id"])


@router.route(
    "PATCH",
    "/webhooks/{webhook_id}",
    body=WebhookUpdate,
    response=WebhookPublic,
    errors=(404,),
    scope="webhooks",
)
def update_webhook(ctx: RequestContext) -> WebhookPublic:
    """Change the URL, events or description; `enabled` disables or re-enables it."""
    return webhooks.update(ctx.principal, ctx.params["webhook_id"], ctx.body)


@router.route("DELETE", "/webhooks/{webhook_id}", status=204, errors=(404,), scope="webhooks")
def delete_webhook(ctx: RequestContext) -> None:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    webhooks.delete(ctx.principal, ctx.params["webhook_id"])


@router.route(
    "POST", "/webhooks/{webhook_id}/rotate-secret", response=WebhookCreated, errors=(404,), scope="webhooks"
)
def rotate_webhook_secret(ctx: RequestContext) -> WebhookCreated:
    """A new signing secret (shown only now); the old one keeps signing alongside it for 24 h."""
    return webhooks.rotate_secret(ctx.principal, ctx.params["webhook_id"])


@router.route("POST", "/webhooks/{webhook_id}/test", response=DeliveryPublic, errors=(404,), scope="webhooks")
def test_webhook(ctx: RequestContext) -> DeliveryPublic:
    """Send a signed `webhook.test` event now (one attempt) and show how it went."""
    return webhooks.send_test(ctx.principal, ctx.params["webhook_id"])


@router.route(
    "GET",
    "/webhooks/{webhook_id}/deliveries",
    query=PageQuery,
    response=DeliveryPage,
    errors=(400, 404),
    scope="webhooks",
)
def list_deliveries(ctx: RequestContext) -> DeliveryPage:
    """The endpoint's delivery log, newest first: event, status, attempts, last response, next attempt."""
    q: PageQuery = ctx.query
    return webhooks.deliveries(ctx.principal, ctx.params["webhook_id"], limit=q.limit, cursor=q.cursor)


@router.route(
    "POST",
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response=DeliveryPublic,
    status=202,
    errors=(404, 409),
    scope="webhooks",
)
def redeliver(ctx: RequestContext) -> Reply:
    """Queue a finished delivery again (same `webhook-id` and body); 409 while it is retrying."""
    return Reply(
        webhooks.redeliver(ctx.principal, ctx.params["webhook_id"], ctx.params["delivery_id"]), status=202
    )


@router.route(
    "POST",
    "/schedules",
    body=ScheduleCreate,
    response=SchedulePublic,
    status=201,
    errors=(404, 409),
    scope="schedules",
)
def create_schedule(ctx: RequestContext) -> Reply:
    """Run an agent on a cron schedule in an IANA time zone; the answer shows `next_run_at`."""
    schedule = schedules.create(ctx.principal, ctx.body)
    return Reply(schedule, status=201, headers={"Location": f"/schedules/{schedule.id}"})


@router.route("GET", "/schedules", query=PageQuery, response=SchedulePage, errors=(400,), scope="schedules")
def list_schedules(ctx: RequestContext) -> SchedulePage:
    """My schedules, newest first (cursor-paginated)."""
    q: PageQuery = ctx.query
    return schedules.list_mine(ctx.principal, limit=q.limit, cursor=q.cursor)


@router.route("GET", "/schedules/{schedule_id}", response=SchedulePublic, errors=(404,), scope="schedules")
def get_schedule(ctx: RequestContext) -> SchedulePublic:
    """One of my schedules."""
    return schedules.get(ctx.principal, ctx.params["schedule_id"])


@router.route(
    "PATCH",
    "/schedules/{schedule_id}",
    body=ScheduleUpdate,
    response=SchedulePublic,
    errors=(404,),
    scope="schedules",
)
def update_schedule(ctx: RequestContext) -> SchedulePublic:
    """Change a schedule; `enabled: false` pauses it, `enabled: true` resumes it (failures reset)."""
    return schedules.update(ctx.principal, ctx.params["schedule_id"], ctx.body)


@router.route("DELETE", "/schedules/{schedule_id}", status=204, errors=(404,), scope="schedules")
def delete_schedule(ctx: RequestContext) -> None:
    """Delete a schedule (its runs stay)."""
    schedules.delete(ctx.principal, ctx.params["schedule_id"])


@router.route(
    "POST",
    "/schedules/{schedule_id}/run-now",
    response=RunPublic,
    status=202,
    errors=(404, 409, 422, 429),
    scope="schedules",
    headers=("Idempotency-Key",),
)
def run_schedule_now(ctx: RequestContext) -> Reply:
    """Queue the schedule's run now, outside its cron (async; counts against the run quota)."""
    run = schedules.run_now(ctx.principal, ctx.params["schedule_id"], ctx.idempotency_key)
    return Reply(run, status=202, headers={"Location": f"/runs/{run.id}"})


@router.route(
    "GET",
    "/schedules/{schedule_id}/runs",
    query=PageQuery,
    response=RunPage,
    errors=(400, 404),
    scope="schedules",
)
def list_schedule_runs(ctx: RequestContext) -> RunPage:
    """The runs this schedule started, newest first (cursor-paginated)."""
    q: PageQuery = ctx.query
    return schedules.runs(ctx.principal, ctx.params["schedule_id"], limit=q.limit, cursor=q.cursor)


@functions_framework.http
def automation_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
