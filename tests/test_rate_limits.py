"""Per-user run-creation rate limit (issue 10): 429 with Retry-After, per user, per window,
every mode counted, idempotent retries free, 0 = off, atomic under concurrency."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_auth import assert_error, count_docs
from tests.test_runs import create_agent, run


def _runs_of(user_id: str) -> int:
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared import db

    return db.count(db.collection("runs").where(filter=FieldFilter("owner_id", "==", user_id)))


def test_runs_beyond_the_limit_are_429_with_retry_after_and_record_nothing(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, other_user: TestUser, env: Callable[..., None]
) -> None:
    env(RUN_RATE_LIMIT_PER_MINUTE="3")
    agent_id = create_agent(agents_api, user)
    for i in range(3):
        assert run(runs_api, user, agent_id, f"hello {i}").status_code == 200
    refused = run(runs_api, user, agent_id, "one too many")
    error = assert_error(refused, 429, "rate_limited")
    assert "3" in error["message"]
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # Streams count too and are refused before any event is sent.
    assert_error(run(runs_api, user, agent_id, "stream", mode="stream"), 429)
    # So are OpenAI-compatible calls (issue 18), in OpenAI's error shape.
    chat = runs_api.post(
        "/v1/chat/completions",
        token=user.token,
        json={"model": agent_id, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 429 and "Retry-After" in chat.headers
    assert chat.get_json()["error"] == {
        **chat.get_json()["error"],
        "type": "rate_limit_error",
        "code": "rate_limited",
    }
    assert _runs_of(user.id) == 3
    # The limit is per user.
    other_agent = create_agent(agents_api, other_user)
    assert run(runs_api, other_user, other_agent, "mine").status_code == 200


def test_idempotent_retries_do_not_spend_the_quota(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    env(RUN_RATE_LIMIT_PER_MINUTE="2")
    agent_id = create_agent(agents_api, user)
    key = uuid.uuid4().hex
    first = runs_api.post(
        "/runs",
        token=user.token,
        json={"agent_id": agent_id, "input": "hi"},
        headers={"Idempotency-Key": key},
    )
    assert first.status_code == 200
    for _ in range(3):
        retry = runs_api.post(
            "/runs",
            token=user.token,
            json={"agent_id": agent_id, "input": "hi"},
            headers={"Idempotency-Key": key},
        )
        assert retry.status_code == 200 and retry.get_json()["id"] == first.get_json()["id"]
    assert run(runs_api, user, agent_id, "second").status_code == 200
    assert_error(run(runs_api, user, agent_id, "third"), 429)


def test_stream_mode_counts(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    env(RUN_RATE_LIMIT_PER_MINUTE="1")
    agent_id = create_agent(agents_api, user)
    streamed = run(runs_api, user, agent_id, "stream", mode="stream")
    assert streamed.status_code == 200
    streamed.get_data()  # drain: the run finishes
    assert_error(run(runs_api, user, agent_id, "sync"), 429)


def test_a_new_window_allows_runs_again(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    env: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.runs import rate_limit

    env(RUN_RATE_LIMIT_PER_MINUTE="1")
    agent_id = create_agent(agents_api, user)
    assert run(runs_api, user, agent_id, "first").status_code == 200
    assert_error(run(runs_api, user, agent_id, "second"), 429)
    later = time.time() + rate_limit.WINDOW_SECONDS
    monkeypatch.setattr(rate_limit.time, "time", lambda: later)
    assert run(runs_api, user, agent_id, "next minute").status_code == 200


def test_zero_turns_the_limit_off(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    env(RUN_RATE_LIMIT_PER_MINUTE="0")
    agent_id = create_agent(agents_api, user)
    for i in range(5):
        assert run(runs_api, user, agent_id, f"run {i}").status_code == 200
    assert count_docs("rate_limits") == 0


def test_the_counter_document_expires(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    from shared import db

    env(RUN_RATE_LIMIT_PER_MINUTE="5")
    agent_id = create_agent(agents_api, user)
    assert run(runs_api, user, agent_id, "hi").status_code == 200
    counters = [s.to_dict() for s in db.query(db.collection("rate_limits"))]
    assert len(counters) == 1 and counters[0] is not None
    assert counters[0]["count"] == 1 and counters[0]["user_id"] == user.id
    assert counters[0]["expires_at"].timestamp() > time.time()


def test_concurrent_creations_never_exceed_the_limit(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    env(RUN_RATE_LIMIT_PER_MINUTE="3")
    agent_id = create_agent(agents_api, user)
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def attempt(i: int) -> None:
        barrier.wait()
        response: Any = run(runs_api, user, agent_id, f"parallel {i}")
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 429, 429, 429]
    assert _runs_of(user.id) == 3
