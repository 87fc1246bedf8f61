"""Schedules (issue 17): validation, DST, the tick (duplicates, catch-up, overlap), auto-pause,
run-now, isolation — in-process against the emulators."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared import db
from tests.conftest import ApiClient, TestUser
from tests.test_runs import create_agent


@pytest.fixture
def automation(apps: dict[str, ApiClient], pubsub_topology: Any) -> ApiClient:
    return apps["automation"]


def make_schedule(api: ApiClient, user: TestUser, agent_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "agent_id": agent_id,
        "cron": "*/5 * * * *",
        "timezone": "Europe/Berlin",
        "input": "report",
        **fields,
    }
    response = api.post("/schedules", token=user.token, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def schedule_runs(api: ApiClient, user: TestUser, schedule_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/schedules/{schedule_id}/runs", token=user.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def stored(schedule_id: str) -> dict[str, Any]:
    return db.get(db.collection("schedules").document(schedule_id)).to_dict() or {}


def make_due(schedule_id: str, at: datetime) -> None:
    db.update(db.collection("schedules").document(schedule_id), {"next_run_at": at})


def finish(run_id: str, status: str) -> dict[str, Any]:
    """End a queued run as the worker would, and hand its result to the dispatcher."""

    from shared.dispatcher import handle_message
    from shared.runs.claim import close_run
    from shared.runs.repository import load_run
    from shared.settings import get_settings
    from shared.worker import PushedMessage

    if status == "succeeded":
        db.update(
            db.collection("runs").document(run_id), {"status": "succeeded", "finished_at": datetime.now(UTC)}
        )
        record = load_run(run_id)
    else:
        record = close_run(run_id, "failed", {"code": "model_error", "message": "boom"})
    assert record is not None
    public = record.public().model_dump(mode="json")
    message = PushedMessage(run_id, json.dumps(public).encode(), topic=get_settings().run_results_topic)
    handle_message(message)
    return public


# -- validation ------------------------------------------------------------------------------


def test_create_shows_next_run_at_in_the_time_zone(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(automation, user, agent_id, cron="30 9 * * 1-5", timezone="America/New_York")
    next_run = datetime.fromisoformat(created["next_run_at"]).astimezone(ZoneInfo("America/New_York"))
    assert (next_run.hour, next_run.minute) == (9, 30) and next_run.weekday() < 5
    assert created["status"] == "active" and created["enabled"] is True and created["overlap"] == "skip"
    assert created["max_consecutive_failures"] == 5
    assert automation.get(f"/schedules/{created['id']}", token=user.token).get_json() == created
    listed = automation.get("/schedules", token=user.token).get_json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * *"}, "cron"),
        ({"cron": "0 0 * * * *"}, "cron"),  # seconds field: not standard cron
        ({"cron": "0 0 30 2 *"}, "cron"),  # never matches
        ({"cron": "every day"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"input": ""}, "input"),
        ({"overlap": "sometimes"}, "overlap"),
        ({"max_consecutive_failures": 0}, "max_consecutive_failures"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_schedules_are_422_with_the_reason_and_write_nothing(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser, fields: dict[str, Any], where: str
) -> None:
    agent_id = create_agent(apps["agents"], user)
    body = {"agent_id": agent_id, "cron": "0 * * * *", "timezone": "UTC", "input": "x", **fields}
    response = automation.post("/schedules", token=user.token, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert where in response.get_data(as_text=True)
    assert automation.get("/schedules", token=user.token).get_json()["items"] == []


def test_macros_and_unknown_agents(automation: ApiClient, apps: dict[str, ApiClient], user: TestUser) -> None:
    agent_id = create_agent(apps["agents"], user)
    assert make_schedule(automation, user, agent_id, cron="@daily", timezone="UTC")["next_run_at"].endswith(
        "T00:00:00Z"
    )
    missing = automation.post(
        "/schedules", token=user.token, json={"agent_id": "nope", "cron": "@daily", "input": "x"}
    )
    assert missing.status_code == 404


# -- DST -------------------------------------------------------------------------------------


def test_daylight_saving_changes_neither_skip_nor_double() -> None:
    from shared.schedules.cron import next_after

    berlin = ZoneInfo("Europe/Berlin")

    def occurrences(expression: str, start: datetime, count: int) -> list[datetime]:
        found, at = [], start
        for _ in range(count):
            at = next_after(expression, "Europe/Berlin", at)
            found.append(at)
        return found

    # Spring forward (2026-03-29 02:00 → 03:00): 02:30 does not exist; it runs once, at 03:30.
    spring = occurrences("30 2 * * *", datetime(2026, 3, 27, 12, tzinfo=UTC), 4)
    local = [o.astimezone(berlin) for o in spring]
    assert [d.day for d in local] == [28, 29, 30, 31]
    assert [(d.hour, d.minute) for d in local] == [(2, 30), (3, 30), (2, 30), (2, 30)]
    # Fall back (2026-10-25 03:00 → 02:00): 02:30 happens twice; it runs once, at the first.
    fall = occurrences("30 2 * * *", datetime(2026, 10, 23, 12, tzinfo=UTC), 4)
    local = [o.astimezone(berlin) for o in fall]
    assert [d.day for d in local] == [24, 25, 26, 27]
    assert all((d.hour, d.minute) == (2, 30) for d in local)
    assert fall[1] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30 (CEST)
    # An hourly job keeps an occurrence for every wall-clock hour, each once.
    hourly = occurrences("0 * * * *", datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 4)
    assert len(set(hourly)) == 4 and hourly == sorted(hourly)
    # Every instant is strictly after the previous one and never repeats.
    assert all(b > a for a, b in itertools.pairwise(spring))


# -- the tick --------------------------------------------------------------------------------


def test_a_due_occurrence_starts_one_async_run_and_duplicate_ticks_do_not_double(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from shared.schedules.tick import tick

    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(automation, user, agent_id, cron="*/5 * * * *", timezone="UTC", overlap="queue")
    occurrence = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    make_due(created["id"], occurrence)
    first = tick()
    assert first.started == [created["id"]]
    assert tick().started == []  # a duplicate tick finds the occurrence taken
    # Even a tick that saw the same occurrence due (a race) gets the same run back.
    make_due(created["id"], occurrence)
    assert tick().started == [created["id"]]
    runs = schedule_runs(automation, user, created["id"])
    assert len(runs) == 1
    run = runs[0]
    assert run["mode"] == "async" and run["status"] == "queued" and run["schedule_id"] == created["id"]
    assert run["agent_id"] == agent_id and run["input"] == "report"
    shown = automation.get(f"/schedules/{created['id']}", token=user.token).get_json()
    assert shown["last_run_id"] == run["id"]
    assert datetime.fromisoformat(shown["next_run_at"]) > datetime.now(UTC)
    assert datetime.fromisoformat(shown["last_occurrence_at"]) == occurrence


def test_missed_ticks_are_caught_up_once(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from shared.schedules.tick import tick

    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(automation, user, agent_id, cron="* * * * *", timezone="UTC", overlap="queue")
    make_due(created["id"], datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=45))
    assert tick().started == [created["id"]]
    assert tick().started == []
    assert len(schedule_runs(automation, user, created["id"])) == 1
    next_run = datetime.fromisoformat(stored(created["id"])["next_run_at"].isoformat())
    assert datetime.now(UTC) < next_run <= datetime.now(UTC) + timedelta(minutes=1)


def test_overlap_skip_records_the_skip_and_queue_does_not(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from shared.schedules.tick import tick

    agent_id = create_agent(apps["agents"], user)
    skipper = make_schedule(automation, user, agent_id, cron="* * * * *", timezone="UTC")
    queuer = make_schedule(automation, user, agent_id, cron="* * * * *", timezone="UTC", overlap="queue")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for minutes_ago in (3, 2):
        for created in (skipper, queuer):
            make_due(created["id"], now - timedelta(minutes=minutes_ago))
        tick()
    skipped = automation.get(f"/schedules/{skipper['id']}", token=user.token).get_json()
    assert len(schedule_runs(automation, user, skipper["id"])) == 1  # the first is still queued
    assert skipped["skipped_occurrences"] == 1 and skipped["last_skip_reason"] == "previous_run_unfinished"
    assert len(schedule_runs(automation, user, queuer["id"])) == 2
    # Once the previous run finished, the next occurrence runs.
    finish(skipped["last_run_id"], "succeeded")
    make_due(skipper["id"], now - timedelta(minutes=1))
    tick()
    assert len(schedule_runs(automation, user, skipper["id"])) == 2


def test_consecutive_failures_pause_the_schedule_and_tell_webhooks(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from standardwebhooks.webhooks import Webhook

    from shared.dispatcher import on_run_result
    from shared.schedules.tick import tick
    from shared.webhooks.sender import attempt
    from shared.worker import PushedMessage
    from tests.webhook_receiver import webhook_receiver

    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(
        automation,
        user,
        agent_id,
        cron="* * * * *",
        timezone="UTC",
        overlap="queue",
        max_consecutive_failures=2,
    )
    with webhook_receiver() as receiver:
        hook = automation.post(
            "/webhooks", token=user.token, json={"url": receiver.url, "events": ["schedule.paused"]}
        ).get_json()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        outcomes = ["failed", "succeeded", "failed", "failed"]
        for index, status in enumerate(outcomes):
            make_due(created["id"], now - timedelta(minutes=len(outcomes) - index))
            assert tick().started == [created["id"]]
            run_id = stored(created["id"])["last_run_id"]
            result = finish(run_id, status)
            finish_again = result  # a duplicate result message counts once
            import json

            from shared.dispatcher import on_run_result
            from shared.worker import PushedMessage

            on_run_result(PushedMessage("dup", json.dumps(finish_again).encode()))
        shown = automation.get(f"/schedules/{created['id']}", token=user.token).get_json()
        assert shown["status"] == "paused" and shown["paused_reason"] == "failures"
        assert shown["enabled"] is False and shown["next_run_at"] is None
        assert shown["consecutive_failures"] == 2
        make_due(created["id"], now)  # a paused schedule is never due
        db.update(db.collection("schedules").document(created["id"]), {"next_run_at": None})
        assert tick().started == []
        log = automation.get(f"/webhooks/{hook['webhook']['id']}/deliveries", token=user.token).get_json()
        assert [d["event_type"] for d in log["items"]] == ["schedule.paused"]
        attempt(hook["webhook"]["id"], log["items"][0]["id"])
        payload = Webhook(hook["secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
        assert payload["data"]["schedule"]["id"] == created["id"]
    resumed = automation.patch(
        f"/schedules/{created['id']}", token=user.token, json={"enabled": True}
    ).get_json()
    assert resumed["status"] == "active" and resumed["consecutive_failures"] == 0 and resumed["next_run_at"]


def test_run_now_and_runs_count_against_the_quota(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser, env: Any
) -> None:
    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(automation, user, agent_id, overlap="queue")
    env(RUN_RATE_LIMIT_PER_MINUTE="2")
    response = automation.post(
        f"/schedules/{created['id']}/run-now", token=user.token, headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    run = response.get_json()
    assert run["schedule_id"] == created["id"] and run["mode"] == "async"
    again = automation.post(
        f"/schedules/{created['id']}/run-now", token=user.token, headers={"Idempotency-Key": "k1"}
    )
    assert again.get_json()["id"] == run["id"]
    assert automation.post(f"/schedules/{created['id']}/run-now", token=user.token).status_code == 202
    limited = automation.post(f"/schedules/{created['id']}/run-now", token=user.token)
    assert limited.status_code == 429
    assert len(schedule_runs(automation, user, created["id"])) == 2
    # A tick refused by the quota records a skip.
    from shared.schedules.tick import tick

    make_due(created["id"], datetime.now(UTC) - timedelta(minutes=1))
    assert tick().skipped == [created["id"]]
    assert stored(created["id"])["last_skip_reason"] == "rate_limited"


def test_a_deleted_agent_pauses_its_schedule(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from shared.schedules.tick import tick

    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(automation, user, agent_id)
    assert apps["agents"].delete(f"/agents/{agent_id}", token=user.token).status_code == 204
    make_due(created["id"], datetime.now(UTC) - timedelta(minutes=1))
    assert tick().paused == [created["id"]]
    assert stored(created["id"])["paused_reason"] == "agent_unavailable"


def test_update_pause_resume_delete_and_isolation(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser, other_user: TestUser
) -> None:
    agent_id = create_agent(apps["agents"], user)
    created = make_schedule(automation, user, agent_id)
    base = f"/schedules/{created['id']}"
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"description": "x"}),
        ("DELETE", base, None),
        ("POST", f"{base}/run-now", None),
        ("GET", f"{base}/runs", None),
    ]:
        assert automation.request(method, path, token=other_user.token, json=body).status_code == 404
    # Nobody schedules someone else's agent.
    theirs = automation.post(
        "/schedules", token=other_user.token, json={"agent_id": agent_id, "cron": "@daily", "input": "x"}
    )
    assert theirs.status_code == 404
    paused = automation.patch(base, token=user.token, json={"enabled": False}).get_json()
    assert (
        paused["status"] == "paused"
        and paused["paused_reason"] == "by_owner"
        and paused["next_run_at"] is None
    )
    changed = automation.patch(
        base, token=user.token, json={"cron": "0 12 * * *", "timezone": "Asia/Tokyo"}
    ).get_json()
    assert changed["status"] == "paused" and changed["cron"] == "0 12 * * *"
    resumed = automation.patch(base, token=user.token, json={"enabled": True}).get_json()
    local = datetime.fromisoformat(resumed["next_run_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (12, 0)
    assert automation.patch(base, token=user.token, json={"cron": "bad"}).status_code == 422
    assert automation.delete(base, token=user.token).status_code == 204
    assert automation.get(base, token=user.token).status_code == 404


def test_an_installed_marketplace_agent_runs_its_installed_version(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser, other_user: TestUser
) -> None:
    from tests.test_runs import definition

    publisher_agent = create_agent(apps["agents"], other_user, "published")
    listing = apps["marketplace"].post(
        "/marketplace/listings",
        token=other_user.token,
        json={"agent_id": publisher_agent, "category": "coding", "tags": []},
    )
    assert listing.status_code == 201, listing.get_data(as_text=True)
    installed = apps["marketplace"].post(
        f"/marketplace/listings/{listing.get_json()['id']}/install", token=user.token
    )
    assert installed.status_code == 201
    copy = installed.get_json()
    created = make_schedule(automation, user, copy["id"])
    # The publisher ships a new version; the installed copy and its schedule keep theirs.
    changed = definition("published", system_prompt="You now do something else.")
    assert (
        apps["agents"].put(f"/agents/{publisher_agent}", token=other_user.token, json=changed).status_code
        == 200
    )
    republished = apps["marketplace"].post(
        "/marketplace/listings",
        token=other_user.token,
        json={"agent_id": publisher_agent, "category": "coding", "tags": []},
    )
    assert republished.status_code in (200, 201)
    run = automation.post(f"/schedules/{created['id']}/run-now", token=user.token).get_json()
    assert run["agent_id"] == copy["id"] and run["agent_version"] == copy["version"]
