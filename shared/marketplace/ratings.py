"""Ratings: ``listings/{id}/ratings/{user_id}``, one per user, updatable.

A rating write is one transaction on the user's rating document that also applies the
change to the counters — ``rating_sum`` by the star delta, ``rating_count`` by 1 for a new
rating — as increments on a random stat shard (so the counts are exact even when the
transaction is retried, and concurrent raters never share a hot document). The average
is folded onto the listing afterwards for sorting (see ``shared.marketplace.stats``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import db
from shared.errors import Forbidden
from shared.marketplace import stats
from shared.marketplace.repository import get_listing, has_installed, listing_ref
from shared.marketplace.schemas import RatingPublic, RatingPut
from shared.pagination import newest_first

if TYPE_CHECKING:
    from shared.auth.principal import Principal

RATINGS = "ratings"


def _rating_ref(listing_id: str, user_id: str) -> Any:
    return listing_ref(listing_id).collection(RATINGS).document(user_id)


def _public(listing_id: str, data: dict[str, Any]) -> RatingPublic:
    return RatingPublic.model_validate({**data, "listing_id": listing_id})


def rate(listing_id: str, principal: Principal, body: RatingPut) -> RatingPublic:
    """Create or replace the caller's rating (verified installers only; never the owner)."""
    listing = get_listing(listing_id)
    if listing.owner_id == principal.user_id:
        raise Forbidden("you cannot rate your own listing", code="own_listing")
    if not has_installed(listing_id, principal.user_id):
        raise Forbidden("only users who installed this listing can rate it", code="not_verified")
    ref = _rating_ref(listing_id, principal.user_id)

    def write(tx: db.Tx) -> dict[str, Any]:
        snap = tx.get(ref)
        previous = snap.to_dict() if snap.exists else None
        now = datetime.now(UTC)
        data: dict[str, Any] = {
            "user_id": principal.user_id,
            "username": principal.username,
            "stars": body.stars,
            "review": body.review,
            "created_at": previous["created_at"] if previous else now,
            "updated_at": now,
        }
        tx.set(ref, data)
        delta = body.stars - int(previous["stars"]) if previous else body.stars
        counters = stats.increments(rating_sum=delta, rating_count=0 if previous else 1)
        if counters:
            tx.set(stats.shard_ref(listing_id), counters, merge=True)
        return data

    data = db.run_transaction(write, max_attempts=10)
    stats.fold(listing_id)
    return _public(listing_id, data)


def list_ratings(listing_id: str, *, limit: int, cursor: str | None) -> tuple[list[RatingPublic], str | None]:
    """A live listing's ratings, most recently changed first."""
    get_listing(listing_id)
    return newest_first(
        listing_ref(listing_id).collection(RATINGS),
        equals={},
        order_field="updated_at",
        cursor_key="u",
        limit=limit,
        cursor=cursor,
        parse=lambda _user_id, data: _public(listing_id, data),
        position=lambda rating: (rating.updated_at, rating.user_id),
    )
