"""The `marketplace` Cloud Function: /marketplace (see API.md)."""

from __future__ import annotations

import flask
import functions_framework

from shared.health import HealthReport, health_report
from shared.marketplace.schemas import (
    Bundle,
    CategoryPublic,
    ListingCreate,
    ListingDetail,
    ListingPage,
    ListingPublic,
    ListingQuery,
    RatingPage,
    RatingPublic,
    RatingPut,
)
from shared.pagination import PageQuery
from shared.web import Reply, RequestContext, Router, serve

router = Router("marketplace", ("/marketplace",))


@router.route("GET", "/marketplace/health", auth="public", response=HealthReport)
def health(ctx: RequestContext) -> dict[str, object]:
    """Which backends this function reaches (503 when one is down)."""
    return health_report("marketplace", ("firestore",))


@router.route("GET", "/marketplace/categories", auth="public", response=list[CategoryPublic])
def list_categories(ctx: RequestContext) -> list[CategoryPublic]:
    """The fixed listing categories, with how many live listings each has."""
    from shared.marketplace import service

    return service.categories()


@router.route(
    "POST",
    "/marketplace/listings",
    body=ListingCreate,
    response=ListingPublic,
    status=201,
    errors=(403, 404),
    extra_responses={200: "the agent was already listed: the listing now shows its current version"},
    scope="marketplace:write",
)
def publish_listing(ctx: RequestContext) -> Reply:
    """Publish my agent's current version (201), or move its listing to that version (200)."""
    from shared.marketplace import service

    published = service.publish(ctx.principal, ctx.body)
    listing = ListingPublic.of(published.record)
    if published.created:
        return Reply(listing, status=201, headers={"Location": f"/marketplace/listings/{listing.id}"})
    return Reply(listing, status=200)


@router.route("GET", "/marketplace/listings", auth="public", query=ListingQuery, response=ListingPage)
def search_listings(ctx: RequestContext) -> ListingPage:
    """Search live listings: free text `q` (all words), `tags` (one of), `category`, `sort`."""
    from shared.marketplace.search import search

    records, cursor = search(ctx.query)
    return ListingPage(items=[ListingPublic.of(r) for r in records], next_cursor=cursor)


@router.route(
    "GET", "/marketplace/listings/{listing_id}", auth="public", response=ListingDetail, errors=(404,)
)
def get_listing(ctx: RequestContext) -> ListingDetail:
    """One live listing with its definition snapshot and exact stats."""
    from shared.marketplace import service

    return service.detail(ctx.params["listing_id"])


@router.route(
    "DELETE", "/marketplace/listings/{listing_id}", status=204, errors=(403, 404), scope="marketplace:write"
)
def delete_listing(ctx: RequestContext) -> None:
    """Remove a listing (owner, moderator or admin); installed copies keep working."""
    from shared.marketplace import service

    service.delete(ctx.params["listing_id"], ctx.principal)


@router.route(
    "POST",
    "/marketplace/listings/{listing_id}/install",
    status=201,
    errors=(404, 409, 422),
    scope="marketplace:write",
)
def install_listing(ctx: RequestContext) -> Reply:
    """Install: a copy of the snapshot becomes my agent (`source` set). `Idempotency-Key` supported."""
    from shared.agents.schemas import AgentPublic
    from shared.marketplace import service

    agent = service.install(ctx.params["listing_id"], ctx.principal, idempotency_key=ctx.idempotency_key)
    return Reply(AgentPublic.of(agent), status=201, headers={"Location": f"/agents/{agent.id}"})


@router.route(
    "GET", "/marketplace/listings/{listing_id}/download", auth="public", response=Bundle, errors=(404,)
)
def download_listing(ctx: RequestContext) -> Bundle:
    """The agent bundle: definition, manifest (tools, permissions), listing metadata, sha256."""
    from shared.marketplace import service

    return service.download(ctx.params["listing_id"])


@router.route(
    "PUT",
    "/marketplace/listings/{listing_id}/ratings/me",
    body=RatingPut,
    response=RatingPublic,
    errors=(403, 404),
    scope="marketplace:write",
)
def rate_listing(ctx: RequestContext) -> RatingPublic:
    """Rate a listing I installed (1-5 stars, optional review); rating again replaces it."""
    from shared.marketplace.ratings import rate

    return rate(ctx.params["listing_id"], ctx.principal, ctx.body)


@router.route(
    "GET",
    "/marketplace/listings/{listing_id}/ratings",
    auth="public",
    query=PageQuery,
    response=RatingPage,
    errors=(404,),
)
def list_ratings(ctx: RequestContext) -> RatingPage:
    """A listing's ratings, most recently changed first (cursor-paginated)."""
    from shared.marketplace.ratings import list_ratings as ratings_page

    items, cursor = ratings_page(ctx.params["listing_id"], limit=ctx.query.limit, cursor=ctx.query.cursor)
    return RatingPage(items=items, next_cursor=cursor)


@functions_framework.http
def marketplace_api(request: flask.Request) -> flask.Response:
    return serve(request, router)
