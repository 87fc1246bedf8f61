"""Scheduled runs: cron + IANA time zone → async runs, started by a once-a-minute tick."""
