"""``GET /runs/{id}/events``: a run's stored events as a JSON page, or an SSE stream that
follows the run live until it ends (resumable with ``Last-Event-ID``).

Event ids are the run's event sequence numbers; a page's ``next_cursor`` (and an SSE
client's ``Last-Event-ID``) is the last id received. The live stream polls the events
store every ``RUN_EVENTS_POLL_SECONDS``, sends a keep-alive comment every 15 s, and ends
after the terminal event (``run.completed`` / ``run.failed``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest
from shared.runs import repository
from shared.runs.events import read_events
from shared.settings import get_settings
from shared.web.responses import format_sse

if TYPE_CHECKING:
    from shared.auth.principal import Principal

TERMINAL_EVENTS = frozenset({"run.completed", "run.failed"})
# A follow stream also ends when the run pauses for a decision (reconnect with Last-Event-ID
# to follow its continuation).
_STREAM_ENDS = TERMINAL_EVENTS | {"run.requires_action"}
KEEP_ALIVE_SECONDS = 15.0
STATUS_CHECK_SECONDS = 2.0


class RunEventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    # Any such number is a position (events after it), so a well-formed cursor is never refused.
    cursor: str | None = Field(
        default=None, pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page (an event id)"
    )


class RunEventPublic(BaseModel):
    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime | None = None


class RunEventPage(BaseModel):
    items: list[RunEventPublic]
    next_cursor: str | None = None


def _position(value: str | None, what: str) -> int:
    if value is None or not value.strip():
        return 0
    try:
        position = int(value.strip())
    except ValueError:
        raise BadRequest(f"invalid {what}", code=f"invalid_{what.lower().replace('-', '_')}") from None
    if position < 0:
        raise BadRequest(f"invalid {what}", code=f"invalid_{what.lower().replace('-', '_')}")
    return position


def list_events(principal: Principal, run_id: str, *, limit: int, cursor: str | None) -> RunEventPage:
    """A page of the caller's run's events, oldest first (404 if the run is not theirs)."""
    repository.get_run_for(principal, run_id)
    after = _position(cursor, "cursor")
    events = read_events(run_id, after=after, limit=limit + 1)
    page = events[:limit]
    items = [RunEventPublic(id=e.id, type=e.type, data=e.data, created_at=e.created_at) for e in page]
    next_cursor = str(page[-1].id) if len(events) > limit and page else None
    return RunEventPage(items=items, next_cursor=next_cursor)


def follow_events(principal: Principal, run_id: str, last_event_id: str | None) -> Iterator[str]:
    """SSE frames of the run's events after ``last_event_id``, live until the run ends.

    Access is checked before the first frame (404 is an ordinary error response).
    """
    repository.get_run_for(principal, run_id)
    after = _position(last_event_id, "Last-Event-ID")
    return _frames(run_id, after)


def _frames(run_id: str, after: int) -> Iterator[str]:
    settings = get_settings()
    poll = settings.run_events_poll_seconds
    started = last_sent = last_status_check = time.monotonic()
    finished_seen_at: float | None = None
    while True:
        events = read_events(run_id, after=after)
        for event in events:
            yield format_sse(event.type, event.data, event.id)
            after = event.id
            last_sent = time.monotonic()
            if event.type in _STREAM_ENDS:
                return
        now = time.monotonic()
        if not events and now - last_status_check >= STATUS_CHECK_SECONDS:
            last_status_check = now
            record = repository.load_run(run_id)
            if record is None:
                return
            if record.finished:
                # Its terminal event should follow at once; if it was never stored, say so ourselves.
                if finished_seen_at is None:
                    finished_seen_at = now
                elif now - finished_seen_at >= STATUS_CHECK_SECONDS:
                    kind = "run.completed" if record.status == "succeeded" else "run.failed"
                    yield format_sse(kind, {"run": record.public().model_dump(mode="json")})
                    return
        if now - started >= settings.run_events_follow_max_seconds:
            return
        if now - last_sent >= KEEP_ALIVE_SECONDS:
            last_sent = now
            yield ": keep-alive\n\n"
        time.sleep(poll)
