"""The run lifecycle state machine (``shared.runs.lifecycle``): every (status, event) pair."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.runs import lifecycle
from shared.runs.lifecycle import STATUSES, Event, IllegalTransition, Move

# Written out independently of the module's table: the allowed moves and where they lead.
EXPECTED: dict[tuple[str, str], str] = {
    ("queued", "claim"): "running",
    ("queued", "fail"): "failed",
    ("queued", "cancel"): "cancelled",
    ("running", "take_over"): "running",
    ("running", "renew"): "running",
    ("running", "request_cancel"): "running",
    ("running", "checkpoint"): "running",
    ("running", "hand_back"): "queued",
    ("running", "pause"): "requires_action",
    ("running", "succeed"): "succeeded",
    ("running", "fail"): "failed",
    ("running", "cancel"): "cancelled",
    ("requires_action", "decide"): "requires_action",
    ("requires_action", "resume"): "running",
    ("requires_action", "resume_queued"): "queued",
    ("requires_action", "cancel"): "cancelled",
    ("requires_action", "expire"): "failed",
}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(STATUSES, list(Event))))
def test_every_status_event_pair(status: str, event: Event) -> None:
    expected = EXPECTED.get((status, event.value))
    if expected is None:
        with pytest.raises(IllegalTransition):
            lifecycle.next_status(status, event)
        assert not lifecycle.allows(status, event)
    else:
        assert lifecycle.next_status(status, event) == expected


def test_finished_runs_never_move() -> None:
    for status, event in itertools.product(("succeeded", "failed", "cancelled"), Event):
        assert not lifecycle.allows(status, event)


def test_status_literal_matches_the_machine() -> None:
    from typing import get_args

    from shared.runs.schemas import RunStatus

    assert set(get_args(RunStatus)) == set(STATUSES)


def _record(status: str, **extra: Any) -> Any:
    from shared.runs.schemas import RunRecord

    now = datetime.now(UTC)
    return RunRecord(
        id="r1",
        agent_id="a",
        agent_version=1,
        owner_id="u",
        mode="async",
        status=status,  # type: ignore[arg-type]
        input="hi",
        created_at=now,
        **extra,
    )


def test_fields_clear_the_lease_and_stamp_finished_at() -> None:
    now = datetime.now(UTC)
    running = _record("running", lease_token="t", lease_expires_at=now + timedelta(seconds=60))
    paused = lifecycle.fields_for(running, Move(Event.PAUSE), now)
    assert paused == {"status": "requires_action", "lease_token": None, "lease_expires_at": None}
    done = lifecycle.fields_for(running, Move(Event.SUCCEED, {"output": "x"}), now)
    assert done["finished_at"] == now and done["lease_token"] is None and done["output"] == "x"
    renewed = lifecycle.fields_for(running, Move(Event.RENEW, {"lease_expires_at": now}), now)
    assert renewed == {"status": "running", "lease_expires_at": now}
    with pytest.raises(IllegalTransition):
        lifecycle.fields_for(_record("succeeded"), Move(Event.CANCEL), now)


def test_transitions_apply_in_firestore() -> None:
    """Against the emulator: legal moves are written, illegal ones and failed guards write nothing."""
    from shared.runs import repository

    record = _record("queued")
    repository.create_run(record)
    assert not lifecycle.apply("r1", Event.SUCCEED).applied  # queued cannot succeed
    claimed = lifecycle.apply("r1", Event.CLAIM, {"lease_token": "t1"})
    assert claimed.applied and claimed.record is not None and claimed.record.status == "running"
    assert not lifecycle.apply("r1", Event.SUCCEED, guard=lifecycle.held_by("other")).applied
    paused = lifecycle.apply("r1", Event.PAUSE, guard=lifecycle.held_by("t1"))
    assert paused.applied
    stored = repository.load_run("r1")
    assert stored is not None and stored.status == "requires_action" and stored.lease_token is None
    expired = {"error": {"code": "approval_expired", "message": "m"}}
    assert lifecycle.apply("r1", Event.EXPIRE, expired).applied
    stored = repository.load_run("r1")
    assert stored is not None and stored.status == "failed" and stored.finished_at is not None
    assert not lifecycle.apply("r1", Event.CANCEL).applied
    assert lifecycle.apply("missing", Event.CLAIM).record is None
