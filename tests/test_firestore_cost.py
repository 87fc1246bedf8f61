"""Pins the Firestore document reads and writes of each operation (issue 9).

The counts come from the data layer (``shared.db``) through the ``X-Firestore-Reads`` /
``X-Firestore-Writes`` response headers, for the same operation sequence ``make bench``
reports (``bench.firestore_cost``). Each expected figure is the minimum the operation needs
(the reason is written next to it in ``bench/firestore_cost.py``); a change that adds a read
or a write fails here, so it has to be a deliberate decision that updates the number.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.firestore_cost import EXPECTED, operation_costs
from tests.conftest import ApiClient


@pytest.fixture
def measured(apps: dict[str, ApiClient], env: Any) -> dict[str, tuple[int, int]]:
    # Folding listing stats reads every non-empty counter shard, and writes go to a random
    # shard: one shard makes the count deterministic (with n shards it is at most n per fold).
    env(MARKETPLACE_STAT_SHARDS="1")

    def call(function: str, method: str, path: str, *, token: str | None = None, json: Any = None) -> Any:
        return apps[function].request(method, path, token=token, json=json)

    return operation_costs(call)


def test_every_operation_is_measured(measured: dict[str, tuple[int, int]]) -> None:
    assert set(measured) == set(EXPECTED)


@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_operation_cost_is_pinned(measured: dict[str, tuple[int, int]], operation: str) -> None:
    expected = EXPECTED[operation]
    assert measured[operation] == (expected.reads, expected.writes), expected.why


def test_counts_follow_the_work(apps: dict[str, ApiClient], make_user: Any) -> None:
    """The counter is live, not a constant: listing n agents reads n documents more."""
    owner = make_user()
    body = {
        "name": "counted",
        "display_name": "Counted",
        "description": "d",
        "model": {"provider": "vertex-gemini", "name": "gemini-2.5-flash"},
        "system_prompt": "Answer.",
    }
    reads = []
    for index in range(3):  # agent names are unique per owner
        created = apps["agents"].post("/agents", token=owner.token, json={**body, "name": f"counted-{index}"})
        assert created.status_code == 201
        listed = apps["agents"].get("/agents", token=owner.token)
        reads.append(int(listed.headers["X-Firestore-Reads"]))
    assert reads == [2, 3, 4]
