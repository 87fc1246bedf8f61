"""Webhook endpoints, signing, the delivery lifecycle and the outbound guard (issue 17), in-process
against the emulators. End to end through Pub/Sub push: tests/test_webhooks_live.py."""

from __future__ import annotations

import base64
import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared import db, outbound
from tests.conftest import ApiClient, TestUser
from tests.test_runs import create_agent, ok_run
from tests.webhook_receiver import Receiver, webhook_receiver


def make_webhook(api: ApiClient, user: TestUser, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post(
        "/webhooks", token=user.token, json={"url": url, "events": events or ["run.completed"]}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def result_message(run: dict[str, Any], message_id: str = "m1") -> Any:
    from shared.settings import get_settings
    from shared.worker import PushedMessage

    return PushedMessage(
        message_id, json.dumps(run).encode(), {"run_id": run["id"]}, topic=get_settings().run_results_topic
    )


def deliveries(api: ApiClient, user: TestUser, webhook_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/webhooks/{webhook_id}/deliveries", token=user.token, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def attempt_all(api: ApiClient, user: TestUser, webhook_id: str) -> list[str]:
    from shared.webhooks.sender import attempt

    return [attempt(webhook_id, d["id"]) for d in deliveries(api, user, webhook_id)["items"]]


def verify(receiver: Receiver, index: int, secret: str) -> dict[str, Any]:
    got = receiver.received[index]
    return Webhook(secret).verify(got.body, got.headers)


@pytest.fixture
def automation(apps: dict[str, ApiClient], pubsub_topology: Any) -> ApiClient:
    return apps["automation"]


# -- endpoints -------------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_crud(automation: ApiClient, user: TestUser) -> None:
    created = make_webhook(automation, user, "http://127.0.0.1:9/hook", ["run.completed", "run.failed"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    hook = created["webhook"]
    assert hook["status"] == "active" and hook["events"] == ["run.completed", "run.failed"]
    shown = automation.get(f"/webhooks/{hook['id']}", token=user.token).get_json()
    assert '"secret":' not in json.dumps(shown) and secret not in json.dumps(shown)
    listed = automation.get("/webhooks", token=user.token).get_json()
    assert [w["id"] for w in listed["items"]] == [hook["id"]] and secret not in json.dumps(listed)
    patched = automation.patch(
        f"/webhooks/{hook['id']}", token=user.token, json={"events": ["batch.completed"], "description": "b"}
    ).get_json()
    assert patched["events"] == ["batch.completed"] and patched["description"] == "b"
    disabled = automation.patch(
        f"/webhooks/{hook['id']}", token=user.token, json={"enabled": False}
    ).get_json()
    assert disabled["status"] == "disabled" and disabled["disabled_reason"] == "by_owner"
    enabled = automation.patch(f"/webhooks/{hook['id']}", token=user.token, json={"enabled": True}).get_json()
    assert enabled["status"] == "active" and enabled["disabled_reason"] is None
    assert automation.delete(f"/webhooks/{hook['id']}", token=user.token).status_code == 204
    assert automation.get(f"/webhooks/{hook['id']}", token=user.token).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "events": ["run.completed"]},
        {"url": "https://user:pw@example.com/x", "events": ["run.completed"]},
        {"url": "https://10.1.2.3/x", "events": ["run.completed"]},
        {"url": "https://169.254.169.254/computeMetadata/v1/", "events": ["run.completed"]},
        {"url": "https://metadata.google.internal/x", "events": ["run.completed"]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x", "events": ["run.exploded"]},
        {"url": "https://example.com/x", "events": ["run.failed", "run.failed"]},
        {"url": "https://example.com/x", "events": ["run.failed"], "secret": "mine"},
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    automation: ApiClient, user: TestUser, body: dict[str, Any]
) -> None:
    response = automation.post("/webhooks", token=user.token, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert automation.get("/webhooks", token=user.token).get_json()["items"] == []


def test_cloud_mode_requires_https_and_refuses_loopback(
    automation: ApiClient, user: TestUser, env: Any
) -> None:
    env(ENVIRONMENT="cloud")
    for url in ("http://example.com/hook", "https://127.0.0.1/hook", "https://[::1]/hook"):
        response = automation.post("/webhooks", token=user.token, json={"url": url, "events": ["run.failed"]})
        assert response.status_code == 422, url
    ok = automation.post(
        "/webhooks", token=user.token, json={"url": "https://example.com/h", "events": ["run.failed"]}
    )
    assert ok.status_code == 201


def test_other_users_see_nothing(automation: ApiClient, user: TestUser, other_user: TestUser) -> None:
    with webhook_receiver() as receiver:
        hook = make_webhook(automation, user, receiver.url)["webhook"]
        theirs = make_webhook(automation, other_user, receiver.url)["webhook"]
        base = f"/webhooks/{hook['id']}"
        for method, path in [
            ("GET", base),
            ("PATCH", base),
            ("DELETE", base),
            ("POST", f"{base}/rotate-secret"),
            ("POST", f"{base}/test"),
            ("GET", f"{base}/deliveries"),
            ("POST", f"{base}/deliveries/msg_x/redeliver"),
        ]:
            body = {"description": "x"} if method == "PATCH" else None
            response = automation.request(method, path, token=other_user.token, json=body)
            assert response.status_code == 404, (method, path)
        assert [w["id"] for w in automation.get("/webhooks", token=other_user.token).get_json()["items"]] == [
            theirs["id"]
        ]
        # An event of `user` reaches only `user`'s endpoints.
        from shared.webhooks.events import emit, run_event

        event = run_event({"id": "r1", "owner_id": user.id, "status": "succeeded"})
        assert event is not None
        sent = emit(event)
        assert [d.webhook_id for d in sent] == [hook["id"]]
        assert all(d.owner_id == user.id for d in sent)


def test_endpoint_limit(automation: ApiClient, user: TestUser, env: Any) -> None:
    env(WEBHOOK_MAX_PER_USER="2")
    for _ in range(2):
        make_webhook(automation, user, "http://127.0.0.1:9/x")
    response = automation.post(
        "/webhooks", token=user.token, json={"url": "http://127.0.0.1:9/x", "events": ["run.failed"]}
    )
    assert response.status_code == 409


# -- deliveries ------------------------------------------------------------------------------


def test_a_finished_run_is_delivered_signed_and_duplicates_are_one_event(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from shared.dispatcher import handle_message

    agent_id = create_agent(apps["agents"], user)
    run = ok_run(apps["runs"], user, agent_id, "say hello")
    with webhook_receiver() as receiver:
        created = make_webhook(automation, user, receiver.url)
        hook_id = created["webhook"]["id"]
        handle_message(result_message(run, "m1"))
        handle_message(result_message(run, "m2"))  # the same result delivered again
        log = deliveries(automation, user, hook_id)["items"]
        assert len(log) == 1 and log[0]["status"] == "pending" and log[0]["event_type"] == "run.completed"
        assert attempt_all(automation, user, hook_id) == ["done"]
        assert attempt_all(automation, user, hook_id) == ["done"]  # closed: not sent again
        assert len(receiver.received) == 1
        payload = verify(receiver, 0, created["secret"])
        assert payload["type"] == "run.completed" and payload["data"]["run"]["id"] == run["id"]
        assert payload["data"]["run"]["output"] == run["output"]
        assert receiver.received[0].headers["webhook-id"] == log[0]["id"]
        datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
        # The OpenAI SDK's verifier accepts it unchanged.
        from openai import OpenAI

        got = receiver.received[0]
        OpenAI(api_key="unused").webhooks.verify_signature(got.body, got.headers, secret=created["secret"])
        shown = deliveries(automation, user, hook_id)["items"][0]
        assert shown["status"] == "succeeded" and shown["attempts"] == 1
        assert shown["last_response_code"] == 200 and shown["last_latency_ms"] >= 0
        assert len(shown["last_response_excerpt"]) <= 500  # the receiver answered 3000 bytes


def test_failures_are_retried_then_succeed_and_redeliver_keeps_the_id(
    automation: ApiClient, user: TestUser
) -> None:
    from shared.dispatcher import handle_message
    from shared.webhooks.sender import attempt

    with webhook_receiver() as receiver:
        receiver.script = [500, 503]
        created = make_webhook(automation, user, receiver.url, ["run.failed"])
        hook_id = created["webhook"]["id"]
        handle_message(result_message({"id": "r9", "owner_id": user.id, "status": "failed"}))
        delivery_id = deliveries(automation, user, hook_id)["items"][0]["id"]
        assert attempt(hook_id, delivery_id) == "retry"
        first = deliveries(automation, user, hook_id)["items"][0]
        assert first["status"] == "retrying" and first["attempts"] == 1 and first["last_response_code"] == 500
        assert first["last_response_excerpt"] == "receiver says no"
        assert datetime.fromisoformat(first["next_attempt_at"]) > datetime.fromisoformat(
            first["last_attempt_at"]
        )
        # A redelivery request while it is still retrying is refused.
        busy = automation.post(f"/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver", token=user.token)
        assert busy.status_code == 409
        assert attempt(hook_id, delivery_id) == "retry"
        second = deliveries(automation, user, hook_id)["items"][0]
        delays = [
            datetime.fromisoformat(d["next_attempt_at"]) - datetime.fromisoformat(d["last_attempt_at"])
            for d in (first, second)
        ]
        assert delays[1] > delays[0]  # exponential backoff
        assert attempt(hook_id, delivery_id) == "done"
        done = deliveries(automation, user, hook_id)["items"][0]
        assert done["status"] == "succeeded" and done["attempts"] == 3
        assert {r.headers["webhook-id"] for r in receiver.received} == {delivery_id}
        again = automation.post(f"/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver", token=user.token)
        assert again.status_code == 202 and again.get_json()["status"] == "pending"
        assert attempt(hook_id, delivery_id) == "done"
        assert len(receiver.received) == 4 and receiver.received[-1].headers["webhook-id"] == delivery_id
        verify(receiver, 3, created["secret"])
        assert (
            automation.post(f"/webhooks/{hook_id}/deliveries/nope/redeliver", token=user.token).status_code
            == 404
        )


def test_rotation_signs_with_both_secrets_for_24_hours(automation: ApiClient, user: TestUser) -> None:
    with webhook_receiver() as receiver:
        created = make_webhook(automation, user, receiver.url)
        hook_id, old = created["webhook"]["id"], created["secret"]
        rotated = automation.post(f"/webhooks/{hook_id}/rotate-secret", token=user.token).get_json()
        new = rotated["secret"]
        assert new != old and new.startswith("whsec_")
        expires = datetime.fromisoformat(rotated["webhook"]["previous_secret_expires_at"])
        assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
        test = automation.post(f"/webhooks/{hook_id}/test", token=user.token)
        assert test.status_code == 200 and test.get_json()["status"] == "succeeded"
        assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2
        assert verify(receiver, 0, old)["type"] == "webhook.test"
        assert verify(receiver, 0, new)["type"] == "webhook.test"
        # After the overlap only the new secret signs.
        db.update(
            db.collection("webhooks").document(hook_id), {"previous_secret_expires_at": datetime.now(UTC)}
        )
        automation.post(f"/webhooks/{hook_id}/test", token=user.token)
        verify(receiver, 1, new)
        with pytest.raises(WebhookVerificationError):
            verify(receiver, 1, old)


def test_a_test_to_a_failing_endpoint_reports_the_failure_once(automation: ApiClient, user: TestUser) -> None:
    with webhook_receiver() as receiver:
        receiver.redirect_to = "http://127.0.0.1:9/elsewhere"
        hook_id = make_webhook(automation, user, receiver.url)["webhook"]["id"]
        result = automation.post(f"/webhooks/{hook_id}/test", token=user.token).get_json()
        # Redirects are not followed: one request, reported as a failure.
        assert result["status"] == "failed" and result["last_response_code"] == 307
        assert len(receiver.received) == 1


def test_rounds_restart_inside_the_retry_window_then_fail(automation: ApiClient, user: TestUser) -> None:
    from shared.webhooks.sender import attempt, dead_lettered

    hook_id = make_webhook(automation, user, "http://127.0.0.1:9/nothing-listens", ["run.failed"])["webhook"][
        "id"
    ]
    from shared.dispatcher import handle_message

    handle_message(result_message({"id": "r2", "owner_id": user.id, "status": "failed"}))
    delivery_id = deliveries(automation, user, hook_id)["items"][0]["id"]
    assert attempt(hook_id, delivery_id) == "retry"
    assert deliveries(automation, user, hook_id)["items"][0]["last_error"] == "connection_failed"
    dead_lettered(hook_id, delivery_id)
    assert deliveries(automation, user, hook_id)["items"][0]["status"] == "retrying"
    ref = db.collection("webhooks").document(hook_id).collection("deliveries").document(delivery_id)
    assert db.get(ref).to_dict()["round"] == 2  # type: ignore[index]
    db.update(ref, {"round_started_at": datetime.now(UTC) - timedelta(days=4)})
    dead_lettered(hook_id, delivery_id)
    final = deliveries(automation, user, hook_id)["items"][0]
    assert final["status"] == "failed" and final["last_error"] == "retries_exhausted"


def test_an_endpoint_failing_for_5_days_is_disabled_and_the_others_are_told(
    automation: ApiClient, user: TestUser
) -> None:
    from shared.dispatcher import handle_message
    from shared.webhooks.sender import attempt

    with webhook_receiver() as receiver:
        failing = make_webhook(automation, user, "http://127.0.0.1:9/down", ["run.failed"])["webhook"]["id"]
        watcher = make_webhook(automation, user, receiver.url, ["webhook.disabled"])
        handle_message(result_message({"id": "r3", "owner_id": user.id, "status": "failed"}))
        delivery_id = deliveries(automation, user, failing)["items"][0]["id"]
        assert attempt(failing, delivery_id) == "retry"
        shown = automation.get(f"/webhooks/{failing}", token=user.token).get_json()
        assert shown["status"] == "active" and shown["failing_since"] is not None
        db.update(
            db.collection("webhooks").document(failing),
            {"failing_since": datetime.now(UTC) - timedelta(days=5)},
        )
        assert attempt(failing, delivery_id) == "retry"
        shown = automation.get(f"/webhooks/{failing}", token=user.token).get_json()
        assert shown["status"] == "disabled" and shown["disabled_reason"] == "failing"
        assert attempt_all(automation, user, watcher["webhook"]["id"]) == ["done"]
        told = verify(receiver, 0, watcher["secret"])
        assert told["type"] == "webhook.disabled" and told["data"]["webhook"]["id"] == failing
        # Nothing more is attempted for the disabled endpoint.
        assert attempt(failing, delivery_id) == "done"
        assert deliveries(automation, user, failing)["items"][0]["last_error"] == "endpoint_disabled"


def test_the_delivery_log_pages(automation: ApiClient, user: TestUser) -> None:
    from shared.dispatcher import handle_message

    hook_id = make_webhook(automation, user, "http://127.0.0.1:9/x", ["run.failed"])["webhook"]["id"]
    for index in range(5):
        handle_message(result_message({"id": f"run{index}", "owner_id": user.id, "status": "failed"}))
    first = deliveries(automation, user, hook_id, limit=3)
    second = deliveries(automation, user, hook_id, limit=3, cursor=first["next_cursor"])
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert len(ids) == 5 == len(set(ids)) and second["next_cursor"] is None


def test_requires_action_and_cancelled_map_to_their_events(automation: ApiClient, user: TestUser) -> None:
    from shared.webhooks.events import run_event

    cancelled = run_event({"id": "r", "owner_id": user.id, "status": "cancelled"})
    assert cancelled is not None and cancelled.type == "run.cancelled"
    first = run_event({"id": "r", "owner_id": user.id, "status": "requires_action", "pending": ["a"]})
    again = run_event({"id": "r", "owner_id": user.id, "status": "requires_action", "pending": ["a"]})
    later = run_event({"id": "r", "owner_id": user.id, "status": "requires_action", "pending": ["b"]})
    assert first is not None and again is not None and later is not None
    assert first.type == "run.requires_action" and first.id == again.id != later.id
    assert run_event({"id": "r", "owner_id": user.id, "status": "running"}) is None


def test_batch_completed_is_sent_once_when_the_last_run_ends(
    automation: ApiClient, apps: dict[str, ApiClient], user: TestUser
) -> None:
    from shared.dispatcher import handle_message
    from shared.runs.batches import run_id_for
    from shared.runs.claim import close_run

    agent_id = create_agent(apps["agents"], user)
    batch = apps["runs"].post("/batches", token=user.token, json={"agent_id": agent_id, "inputs": ["a", "b"]})
    assert batch.status_code == 202
    batch_id = batch.get_json()["id"]
    with webhook_receiver() as receiver:
        created = make_webhook(automation, user, receiver.url, ["batch.completed"])
        hook_id = created["webhook"]["id"]
        for index in range(2):
            closed = close_run(run_id_for(batch_id, index), "failed", {"code": "x", "message": "x"})
            assert closed is not None
            handle_message(result_message(closed.public().model_dump(mode="json"), f"m{index}"))
            handle_message(result_message(closed.public().model_dump(mode="json"), f"dup{index}"))
        assert attempt_all(automation, user, hook_id) == ["done"]
        payload = verify(receiver, 0, created["secret"])
        assert payload["type"] == "batch.completed" and payload["data"]["batch"]["id"] == batch_id
        assert payload["data"]["batch"]["counts"]["failed"] == 2


# -- the outbound guard ----------------------------------------------------------------------


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names resolving to chosen addresses (anything else resolves normally)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in table[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.7"], "private"),
        (["192.168.1.1"], "private"),
        (["169.254.169.254"], "metadata"),
        (["169.254.10.10"], "link-local"),
        (["100.64.0.1"], "public"),
        (["127.0.0.1"], "loopback"),
        (["93.184.216.34", "172.16.0.1"], "private"),  # one bad answer is enough
    ],
)
def test_the_guard_refuses_names_resolving_to_non_public_addresses_in_the_cloud(
    fake_dns: dict[str, list[str]], addresses: list[str], reason: str
) -> None:
    fake_dns["hooks.customer.example"] = addresses
    with pytest.raises(outbound.OutboundRefused, match=reason):
        outbound.post("https://hooks.customer.example/x", b"{}", {}, timeout=1, policy=outbound.CLOUD_POLICY)


def test_the_guard_in_cloud_and_local_modes() -> None:
    cloud, local = outbound.CLOUD_POLICY, outbound.LOCAL_POLICY
    for url, expected in [
        ("http://example.com/x", "https"),
        ("https://localhost/x", "loopback"),
        ("https://[::ffff:10.0.0.1]/x", "private"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
    ]:
        with pytest.raises(outbound.OutboundRefused, match=expected):
            outbound.post(url, b"{}", {}, timeout=1, policy=cloud)
    # Locally loopback receivers are fine; private ranges and the metadata server are not.
    with webhook_receiver() as receiver:
        assert outbound.post(receiver.url, b"{}", {}, timeout=5, policy=local).status == 200
        with pytest.raises(outbound.OutboundRefused):
            outbound.post(receiver.url, b"{}", {}, timeout=5, policy=cloud)
    with pytest.raises(outbound.OutboundRefused, match="private"):
        outbound.post("http://10.0.0.1/x", b"{}", {}, timeout=1, policy=local)
    with pytest.raises(outbound.OutboundRefused, match="metadata"):
        outbound.post("http://169.254.169.254/x", b"{}", {}, timeout=1, policy=local)


def test_the_guard_connects_to_the_address_it_checked(fake_dns: dict[str, list[str]]) -> None:
    """DNS rebinding: the name is resolved once; a second answer is never used."""
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        fake_dns["rebind.example"] = ["127.0.0.1"]
        calls: list[str] = []
        real = socket.getaddrinfo

        def counting(host: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(host)
            return real(host, *args, **kwargs)

        socket.getaddrinfo = counting  # type: ignore[assignment]
        try:
            response = outbound.post(
                f"http://rebind.example:{port}/x", b"{}", {}, timeout=5, policy=outbound.LOCAL_POLICY
            )
        finally:
            socket.getaddrinfo = real  # type: ignore[assignment]
        assert response.status == 200 and calls.count("rebind.example") == 1
        assert receiver.received[0].headers["host"] == f"rebind.example:{port}"


def test_a_delivery_to_a_refused_address_fails_without_sending(
    automation: ApiClient, user: TestUser, env: Any, fake_dns: dict[str, list[str]]
) -> None:
    from shared.dispatcher import handle_message
    from shared.webhooks.sender import attempt

    env(ENVIRONMENT="cloud")
    hook_id = make_webhook(automation, user, "https://hooks.customer.example/x", ["run.failed"])["webhook"][
        "id"
    ]
    fake_dns["hooks.customer.example"] = ["169.254.169.254"]  # rebinding after it was saved
    handle_message(result_message({"id": "r4", "owner_id": user.id, "status": "failed"}))
    delivery_id = deliveries(automation, user, hook_id)["items"][0]["id"]
    assert attempt(hook_id, delivery_id) == "retry"
    shown = deliveries(automation, user, hook_id)["items"][0]
    assert shown["last_error"].startswith("refused: ") and "metadata" in shown["last_error"]
    assert shown["last_response_code"] is None
