"""A2A (issue 19) with the official `a2a-sdk` Python client through the gateway and the real
functions: the agent card (per-agent well-known path and `?agent_id=`), `message/send`
(blocking, and non-blocking then `tasks/get`), `message/stream`, `tasks/cancel`; a task is a
run (`source: "a2a"`), a context a session, all in Firestore."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import requests

from tests.conftest import LiveStack, TestUser
from tests.test_runs import definition


def _post(stack: LiveStack, path: str, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        stack.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest.fixture
def a2a_user(live_stack: LiveStack, make_user: Callable[..., TestUser]) -> dict[str, Any]:
    user = make_user()
    created = _post(
        live_stack, "/agents", user.token, definition("a2a-writer", description="Writes for A2A.")
    )
    assert created.status_code == 201, created.text
    token = _post(live_stack, "/auth/tokens", user.token, {"name": "a2a", "scopes": ["runs"]})
    assert token.status_code == 201, token.text
    return {"user": user, "agent": created.json()["id"], "token": token.json()["secret"]}


async def _client(base: str, agent_id: str, token: str, **config: Any) -> tuple[Any, Any]:
    import httpx
    from a2a.client import ClientConfig, create_client

    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
    client = await create_client(
        f"{base}/a2a/{agent_id}", client_config=ClientConfig(httpx_client=http, **config)
    )
    return client, http


def _message(text: str, context_id: str | None = None) -> Any:
    import uuid

    from a2a.types import Message, Part, Role, SendMessageRequest

    message = Message(role=Role.ROLE_USER, parts=[Part(text=text)], message_id=uuid.uuid4().hex)
    if context_id:
        message.context_id = context_id
    return SendMessageRequest(message=message)


@contextlib.asynccontextmanager
async def _closing(http: Any) -> AsyncIterator[None]:
    """Close the client's httpx client at the end (the card resolver already opened it)."""
    try:
        yield
    finally:
        await http.aclose()


async def _events(client: Any, request: Any) -> list[Any]:
    return [event async for event in client.send_message(request)]


def test_card_send_and_get(live_stack: LiveStack, a2a_user: dict[str, Any]) -> None:
    from a2a.types import GetTaskRequest, TaskState

    base, agent_id, token = live_stack.base_url, a2a_user["agent"], a2a_user["token"]
    headers = {"Authorization": f"Bearer {token}"}
    card = requests.get(
        f"{base}/.well-known/agent-card.json?agent_id={agent_id}", headers=headers, timeout=30
    )
    assert card.status_code == 200, card.text
    assert card.json()["url"] == f"{base}/a2a/{agent_id}"
    assert card.json()["protocolVersion"] == "0.3.0"
    assert (
        requests.get(f"{base}/.well-known/agent-card.json?agent_id={agent_id}", timeout=30).status_code == 401
    )

    async def scenario() -> dict[str, Any]:
        client, http = await _client(base, agent_id, token, streaming=False)
        async with _closing(http):
            first = (await _events(client, _message("hello over a2a")))[0].task
            second = (await _events(client, _message("and again", first.context_id)))[0].task
            fetched = await client.get_task(GetTaskRequest(id=first.id))
        queued_client, queued_http = await _client(base, agent_id, token, streaming=False, polling=True)
        async with _closing(queued_http):
            queued = (await _events(queued_client, _message("later please")))[0].task
            deadline = time.monotonic() + 120
            polled = await queued_client.get_task(GetTaskRequest(id=queued.id))
            while polled.status.state != TaskState.TASK_STATE_COMPLETED and time.monotonic() < deadline:
                await asyncio.sleep(1)
                polled = await queued_client.get_task(GetTaskRequest(id=queued.id))
        return {"first": first, "second": second, "fetched": fetched, "queued": queued, "polled": polled}

    out = asyncio.run(scenario())
    first, second = out["first"], out["second"]
    assert first.status.state == TaskState.TASK_STATE_COMPLETED
    assert (
        first.artifacts[0].parts[0].text
        == 'Offline reply to "hello over a2a". (message 1 of this conversation)'
    )
    assert first.status.HasField("timestamp")  # parsed: RFC 3339 with a zone
    # The context is a session: the second message continues the conversation.
    assert second.context_id == first.context_id
    assert second.artifacts[0].parts[0].text.endswith("(message 2 of this conversation)")
    assert out["fetched"].id == first.id and out["fetched"].status.state == TaskState.TASK_STATE_COMPLETED
    assert out["queued"].status.state == TaskState.TASK_STATE_SUBMITTED
    assert out["polled"].status.state == TaskState.TASK_STATE_COMPLETED, out["polled"]
    runs = requests.get(
        f"{base}/runs?limit=100", headers={"Authorization": f"Bearer {a2a_user['user'].token}"}, timeout=30
    ).json()["items"]
    assert {r["source"] for r in runs} == {"a2a"} and len(runs) == 3
    assert {r["id"] for r in runs} == {first.id, second.id, out["queued"].id}
    assert next(r for r in runs if r["id"] == first.id)["session_id"] == first.context_id


def test_stream_and_cancel(live_stack: LiveStack, a2a_user: dict[str, Any]) -> None:
    from a2a.types import CancelTaskRequest, GetTaskRequest, TaskState
    from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError

    base, agent_id, token = live_stack.base_url, a2a_user["agent"], a2a_user["token"]

    async def scenario() -> dict[str, Any]:
        client, http = await _client(base, agent_id, token, streaming=True)
        async with _closing(http):
            events = await _events(client, _message("stream over a2a"))
        poller, poll_http = await _client(base, agent_id, token, streaming=False, polling=True)
        async with _closing(poll_http):
            slow = (await _events(poller, _message("pause 20\nslow one")))[0].task
            cancelled = await poller.cancel_task(CancelTaskRequest(id=slow.id))
            deadline = time.monotonic() + 90
            state = cancelled.status.state
            while state != TaskState.TASK_STATE_CANCELED and time.monotonic() < deadline:
                await asyncio.sleep(1)
                state = (await poller.get_task(GetTaskRequest(id=slow.id))).status.state
            try:
                await poller.cancel_task(CancelTaskRequest(id=slow.id))
                again: Any = None
            except TaskNotCancelableError as exc:
                again = exc
            try:
                await poller.get_task(GetTaskRequest(id="0" * 32))
                missing: Any = None
            except TaskNotFoundError as exc:
                missing = exc
        return {"events": events, "state": state, "again": again, "missing": missing}

    out = asyncio.run(scenario())
    kinds = [event.WhichOneof("payload") if hasattr(event, "WhichOneof") else None for event in out["events"]]
    updates = [e for e in out["events"] if e.HasField("status_update")]
    assert updates and updates[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED, kinds
    chunks = [e for e in out["events"] if e.HasField("artifact_update")]
    text = "".join(p.text for e in chunks for p in e.artifact_update.artifact.parts)
    assert text == 'Offline reply to "stream over a2a". (message 1 of this conversation)'
    assert len(chunks) > 2  # streamed word by word
    assert out["state"] == TaskState.TASK_STATE_CANCELED
    assert out["again"] is not None and "already canceled" in str(out["again"])
    assert out["missing"] is not None
