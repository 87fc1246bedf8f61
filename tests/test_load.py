"""The whole local stack under concurrent mixed load, checked for correctness (not speed).

A handful of users drive the gateway, every function as its own process and the emulators
(``live_stack``) with the realistic mix of ``tools/loadtest.py`` for a fixed time. Then:
no response was a 5xx, every run a client was given exists and finished (succeeded: the
offline model does not fail), every batch's counts add up, every session kept every turn,
every workspace file reads back as written. ``make bench`` runs the same load larger and
reports throughput and latency (bench/load.py); nothing here is timed.
"""

from __future__ import annotations

from typing import Any

from tools.loadtest import MIX, run_load

USERS = 4
SECONDS = 20


def test_mixed_load_loses_nothing_and_never_fails_with_5xx(live_stack: Any) -> None:
    report = run_load(live_stack.base_url, users=USERS, seconds=SECONDS)
    ledger = report.ledger
    assert ledger.server_errors == []
    assert ledger.problems == []
    assert report.lost == []
    assert report.unfinished == []
    # Every kind of operation ran, and every run a client was given succeeded.
    assert {op for op in MIX if op not in ("install", "rate")} <= set(ledger.samples)
    assert ledger.runs and ledger.batches and ledger.sessions and ledger.files
    assert set(report.run_statuses) == {"succeeded"}
    assert sum(report.run_statuses.values()) >= len(ledger.runs) + len(ledger.batches) * 2
