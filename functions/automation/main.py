"""The `automation` Cloud Function: /webhooks and /schedules (see API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.health import HealthReport, health_report
from shared.pagination import PageQuery
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


@router.route("POST", "/webhooks", body=WebhookCreate, response=WebhookCreated, status=201, errors=(409,))
def create_webhook(ctx: RequestContext) -> Reply:
    """Register an endpoint for events; the answer holds its signing secret (shown only now)."""
    created = webhooks.create(ctx.principal, ctx.body)
    return Reply(created, status=201, headers={"Location": f"/webhooks/{created.webhook.id}"})


@router.route("GET", "/webhooks", query=PageQuery, response=WebhookPage, errors=(400,))
def list_webhooks(ctx: RequestContext) -> WebhookPage:
    """My webhook endpoints, newest first (cursor-paginated)."""
    q: PageQuery = ctx.query
    return webhooks.list_mine(ctx.principal, limit=q.limit, cursor=q.cursor)


@router.route("GET", "/webhooks/{webhook_id}", response=WebhookPublic, errors=(404,))
def get_webhook(ctx: RequestContext) -> WebhookPublic:
    """One of my endpoints (never its secret)."""
    return webhooks.get(ctx.principal, ctx.params["webhook_id"])


@router.route("PATCH", "/webhooks/{webhook_id}", body=WebhookUpdate, response=WebhookPublic, errors=(404,))
def update_webhook(ctx: RequestContext) -> WebhookPublic:
    """Change the URL, events or description; `enabled` disables or re-enables it."""
    return webhooks.update(ctx.principal, ctx.params["webhook_id"], ctx.body)


@router.route("DELETE", "/webhooks/{webhook_id}", status=204, errors=(404,))
def delete_webhook(ctx: RequestContext) -> None:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    webhooks.delete(ctx.principal, ctx.params["webhook_id"])


@router.route("POST", "/webhooks/{webhook_id}/rotate-secret", response=WebhookCreated, errors=(404,))
def rotate_webhook_secret(ctx: RequestContext) -> WebhookCreated:
    """A new signing secret (shown only now); the old one keeps signing alongside it for 24 h."""
    return webhooks.rotate_secret(ctx.principal, ctx.params["webhook_id"])


@router.route("POST", "/webhooks/{webhook_id}/test", response=DeliveryPublic, errors=(404,))
def test_webhook(ctx: RequestContext) -> DeliveryPublic:
    """Send a signed `webhook.test` event now (one attempt) and show how it went."""
    return webhooks.send_test(ctx.principal, ctx.params["webhook_id"])


@router.route(
    "GET", "/webhooks/{webhook_id}/deliveries", query=PageQuery, response=DeliveryPage, errors=(400, 404)
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
)
def redeliver(ctx: RequestContext) -> Reply:
    """Queue a finished delivery again (same `webhook-id` and body); 409 while it is retrying."""
    return Reply(
        webhooks.redeliver(ctx.principal, ctx.params["webhook_id"], ctx.params["delivery_id"]), status=202
    )


@functions_framework.http
def automation_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
