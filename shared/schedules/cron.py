"""Cron expressions in an IANA time zone (``croniter`` parses and steps them).

Occurrences are wall-clock times in the schedule's zone, each started exactly once:

- a wall time that does not exist (the hour skipped when clocks go forward) runs at the same
  offset after the gap (``30 2 * * *`` on a spring-forward night runs at 03:30);
- a wall time that happens twice (clocks go back) runs at its first occurrence only.

So daylight-saving changes neither skip nor double an occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import ValidationFailed

_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name`` (422 naming ``field`` if there is none)."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValidationFailed.field(field, "not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.field(field, f"unknown time zone '{name}'") from None


def validate(expression: str, timezone: str) -> None:
    """422 with the reason unless ``expression`` is a 5-field cron expression (or a macro
    such as ``@daily``) that ever matches, and ``timezone`` an IANA zone."""
    from croniter import CroniterBadDateError, croniter

    tz = zone(timezone)
    text = expression.strip()
    if text.lower() not in _MACROS:
        if len(text.split()) != 5:
            raise ValidationFailed.field(
                "cron", "a cron expression has 5 fields: minute hour day-of-month month day-of-week"
            )
        if not croniter.is_valid(text):
            raise ValidationFailed.field("cron", f"invalid cron expression '{text}'")
    try:
        next_after(text, tz.key, datetime.now(UTC))
    except (CroniterBadDateError, ValueError, KeyError):
        raise ValidationFailed.field("cron", f"'{text}' never matches a date") from None


def next_after(expression: str, timezone: str, after: datetime) -> datetime:
    """The first occurrence strictly after ``after`` (UTC), by the rules in the docstring."""
    from croniter import croniter

    tz = ZoneInfo(timezone)
    wall = after.astimezone(tz).replace(tzinfo=None)
    steps = croniter(expression, wall)
    for _ in range(1000):  # a handful of steps at most; bounded for safety
        candidate: datetime = steps.get_next(datetime)
        # fold=0: the first of two equal wall times; a skipped one keeps the pre-gap offset.
        instant = candidate.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if instant > after:
            return instant
    raise ValueError("no next occurrence")
