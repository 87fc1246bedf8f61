"""Per-user run-creation rate limit: a fixed one-minute window counted in Firestore.

Each (user, minute) pair is one document in ``rate_limits`` whose ``count`` is bumped with
an atomic server-side increment whose result comes back with the write (no transaction and
no read, so concurrent requests never contend and each sees its own count): the request
that pushes the count past the limit is refused with 429 and a ``Retry-After`` up to the
end of the window. Attempts count, not only successes, so probing with requests that fail
later (unknown agent, busy session) spends the budget too. Documents carry ``expires_at``
for the Firestore TTL policy on ``rate_limits``.

``settings.run_rate_limit_per_minute`` = 0 turns the limit off (nothing is read or written).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from shared import db
from shared.errors import RateLimited
from shared.settings import get_settings

RATE_LIMITS = "rate_limits"
WINDOW_SECONDS = 60
SCOPE = "runs"

_log = logging.getLogger(__name__)


def window_doc_id(user_id: str, now: float) -> str:
    """The counter document of ``user_id``'s window containing ``now``."""
    return f"{SCOPE}:{user_id}:{int(now) // WINDOW_SECONDS}"


def consume_run_quota(user_id: str, runs: int = 1) -> None:
    """Count ``runs`` run creations for ``user_id``; 429 when that exceeds this minute's limit.

    A batch consumes one unit per input. Call after the request was parsed (bad input must
    not spend quota) and before anything is recorded or enqueued.
    """
    limit = get_settings().run_rate_limit_per_minute
    if limit <= 0 or runs <= 0:
        return
    now = time.time()
    window_index = int(now) // WINDOW_SECONDS
    window_ends = (window_index + 1) * WINDOW_SECONDS
    ref = db.collection(RATE_LIMITS).document(window_doc_id(user_id, now))
    count = db.increment_and_get(
        ref,
        "count",
        runs,
        {
            "scope": SCOPE,
            "user_id": user_id,
            # One window later than needed, so a clock skew never deletes a live counter.
            "expires_at": dt.datetime.fromtimestamp(window_ends + WINDOW_SECONDS, dt.UTC),
        },
    )
    if count > limit:
        retry_after = max(1, window_ends - int(time.time()))
        _log.warning("run creation rate limited", extra={"retry_after": retry_after, "limit": limit})
        raise RateLimited(
            f"at most {limit} runs per minute; try again later",
            code="rate_limited",
            retry_after=retry_after,
        )
