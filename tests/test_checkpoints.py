"""Durable steps (issue 16): a worker that dies after a tool ran is succeeded by one that resumes
from the checkpoint — the tool does not run again and no model call before it is repeated."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser
from tests.test_async_runs import Queue, Worker, events_of, get_run
from tests.test_async_runs import queue as queue
from tests.test_async_runs import worker as worker
from tests.test_runs import create_agent, run

PROMPT = 'Save it\ncall file_write {"path": "out/log.txt", "content": "line\\n", "append": true}'


class ModelCalls:
    """Counts the offline model's responses (streamed or not) in this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from shared.execution.offline import OfflineModel

        self.count = 0
        original = OfflineModel._before_response  # pyright: ignore[reportPrivateUsage]

        async def counted(model: Any, messages: Any) -> Any:
            self.count += 1
            return await original(model, messages)

        monkeypatch.setattr(OfflineModel, "_before_response", counted)


def test_a_successor_resumes_from_the_checkpoint_without_repeating_work(
    agents_api: ApiClient,
    runs_api: ApiClient,
    user: TestUser,
    queue: Queue,
    worker: Worker,
    workspace_root: Path,
    env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.runs import leases, runner

    env(RUN_LEASE_SECONDS="5", RUN_DUPLICATE_WAIT_SECONDS="1")
    calls = ModelCalls(monkeypatch)
    agent_id = create_agent(agents_api, user, tools=[{"name": "file_write", "config": {}}])
    queued = run(runs_api, user, agent_id, PROMPT, mode="async").get_json()
    message = queue.run_messages()[0]

    # The first worker: its lease is never renewed, and it "dies" (hangs, then crashes) right
    # after storing the tool's result — as a killed instance would look from outside.
    stored_results = threading.Event()
    released = threading.Event()
    dying = {"armed": True}
    original_save = runner._Steps.save  # pyright: ignore[reportPrivateUsage]
    original_start = leases.LeaseKeeper.start

    async def save_then_die(self: Any, messages: list[Any], usage: Any) -> None:
        await original_save(self, messages, usage)
        if dying["armed"] and self.segments == 2:  # model response + tool results stored
            dying["armed"] = False
            stored_results.set()
            await asyncio.to_thread(released.wait, 120)
            raise RuntimeError("the instance died")

    def start_unless_dying(self: Any) -> None:
        if not dying["armed"]:
            original_start(self)

    monkeypatch.setattr(runner._Steps, "save", save_then_die)  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(leases.LeaseKeeper, "start", start_unless_dying)
    first = threading.Thread(target=worker.deliver, args=(message,), daemon=True)
    first.start()
    assert stored_results.wait(60), "the first worker never reached the tool's checkpoint"
    log = workspace_root / user.id / "out" / "log.txt"
    assert log.read_text() == "line\n" and calls.count == 1
    time.sleep(5.5)  # its lease lapses

    assert worker.deliver(message) == 200  # the successor takes the run over
    final = get_run(runs_api, user, queued["id"])
    assert final["status"] == "succeeded", final
    assert final["attempts"] == 2
    assert log.read_text() == "line\n"  # the tool did not run again
    assert calls.count == 2  # one model call each: the first was not repeated
    assert final["usage"]["requests"] == 2 and final["usage"]["tool_calls"] == 1
    types = [e["type"] for e in events_of(runs_api, user, queued["id"])]
    assert types.count("run.resumed") == 1 and types[-1] == "run.completed"

    released.set()  # the dead instance wakes up: it can no longer change the run
    first.join(30)
    after = get_run(runs_api, user, queued["id"])
    assert after["status"] == "succeeded" and after["output"] == final["output"]
    assert calls.count == 2


def test_a_run_without_tool_calls_stores_no_checkpoint_only_its_recording(
    agents_api: ApiClient, runs_api: ApiClient, user: TestUser
) -> None:
    from shared import db
    from shared.runs import repository

    agent_id = create_agent(agents_api, user)
    body = run(runs_api, user, agent_id, "say plain").get_json()
    assert body["status"] == "succeeded"
    # No step checkpoint; the whole conversation (prompt + answer) is one document, written
    # when the run finished (the recording replay and fork use, issue 20).
    stored = db.query(repository.run_ref(body["id"]).collection("conversation"))
    assert [s.id for s in stored] == ["000000-0000"]
    assert (stored[0].to_dict() or {})["messages"] == 2


def test_a_segment_reads_back_as_the_conversation_adapter_writes_it() -> None:
    """The stored segment (messages and usage written field by field) is what pydantic-ai's own
    ``ConversationTypeAdapter`` reads: the same messages (a tool call, its return, binary
    content) and usage (with a cost) as a segment written through the adapter."""
    from decimal import Decimal

    from pydantic_ai import DeferredToolRequests
    from pydantic_ai.conversation import Conversation, ConversationTypeAdapter
    from pydantic_ai.messages import (
        BinaryContent,
        ModelRequest,
        ModelResponse,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
        UserPromptPart,
    )
    from pydantic_ai.usage import RunUsage

    from shared.runs.checkpoints import conversation_json

    call = ToolCallPart("file_read", {"path": "a.txt"}, tool_call_id="c1")
    messages = [
        ModelRequest(parts=[UserPromptPart(["look", BinaryContent(b"\x00\x01", media_type="image/png")])]),
        ModelResponse(parts=[call]),
        ModelRequest(parts=[ToolReturnPart("file_read", {"text": "é"}, tool_call_id="c1")]),
        ModelResponse(parts=[TextPart("done")]),
    ]
    usage = RunUsage(input_tokens=12, output_tokens=3, requests=2, tool_calls=1, details={"thoughts": 4})
    usage.cost = Decimal("0.000123")  # pyright: ignore[reportAttributeAccessIssue]
    ours = ConversationTypeAdapter.validate_json(conversation_json(messages, usage))
    theirs = ConversationTypeAdapter.validate_json(
        ConversationTypeAdapter.dump_json(Conversation(messages=messages, usage=usage))
    )
    assert ours.messages == theirs.messages and len(ours.messages) == 4
    assert ours.usage == theirs.usage
    assert ours.deferred_tool_requests is None
    pending = DeferredToolRequests(approvals=[call])
    paused = ConversationTypeAdapter.validate_json(conversation_json(messages[:2], usage, pending))
    assert paused.deferred_tool_requests == pending and len(paused.messages) == 2
