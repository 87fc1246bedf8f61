"""A run's stored conversation: ``runs/{id}/conversation/{segment}-{part}``.

The execution stores the run's own messages (never the session history before them; but the
history a client sent with the request — OpenAI-compatible API, AG-UI — leads the first
segment, since nothing else keeps it for a resumed run) step by step: after each model
response that calls tools and after each batch of tool results, the messages added since the
previous checkpoint become one *segment* — pydantic-ai's
``Conversation`` JSON (those messages, the run's usage so far, and when the run pauses the
deferred tool requests) — split into chunk documents of at most ``SESSION_CHUNK_BYTES``, so
state far beyond Firestore's 1 MiB document limit works. Chunks are *created* (never
overwritten) in a transaction that checks the writer still holds the run's lease
(``lifecycle`` ``checkpoint``/``pause``), so a worker that lost its run can never write into
its successor's conversation. A small step costs one document write.

``load`` reassembles the complete segments: the messages in order, the usage and pending
requests of the last one. A resumed run (approval, takeover after a crash) continues from
there without repeating model calls or tool executions that were checkpointed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import db
from shared.runs import repository
from shared.settings import get_settings

if TYPE_CHECKING:
    from pydantic_ai import DeferredToolRequests
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.usage import RunUsage

CONVERSATION = "conversation"


def _chunk_ref(run_id: str, segment: int, part: int) -> Any:
    return repository.run_ref(run_id).collection(CONVERSATION).document(f"{segment:06d}-{part:04d}")


@dataclass
class Checkpoint:
    """The run's conversation as stored: its messages, usage and pending requests."""

    messages: list[ModelMessage] = field(default_factory=list["ModelMessage"])
    usage: RunUsage | None = None
    pending: DeferredToolRequests | None = None
    segments: int = 0


@dataclass
class Segment:
    """One step to store: its chunk writes go into the lifecycle transaction (``Move.also``)."""

    run_id: str
    index: int
    pieces: list[bytes]
    message_count: int

    def write(self, tx: db.Tx) -> None:
        now = datetime.now(UTC)
        for part, piece in enumerate(self.pieces):
            tx.create(
                _chunk_ref(self.run_id, self.index, part),
                {
                    "segment": self.index,
                    "part": part,
                    "parts": len(self.pieces),
                    "messages": self.message_count,
                    "data": piece,
                    "created_at": now,
                },
            )


def segment(
    run_id: str,
    index: int,
    messages: list[ModelMessage],
    usage: RunUsage,
    pending: DeferredToolRequests | None = None,
) -> Segment:
    """Serialize one step (``index`` = how many segments are stored already)."""
    blob = conversation_json(messages, usage, pending)
    size = get_settings().session_chunk_bytes
    pieces = [blob[i : i + size] for i in range(0, len(blob), size)]
    return Segment(run_id, index, pieces, len(messages))


def conversation_json(
    messages: list[ModelMessage], usage: RunUsage, pending: DeferredToolRequests | None = None
) -> bytes:
    """pydantic-ai's ``Conversation`` JSON (what ``ConversationTypeAdapter`` reads back).

    Without pending requests it is written field by field: the messages through
    ``ModelMessagesTypeAdapter`` (as the conversation's own serializer does; the session history
    uses that adapter anyway) and the usage as the plain dataclass it is. The first use of
    ``ConversationTypeAdapter`` builds a second schema of every message type, which cost a
    cold instance's first run ~0.1-0.2 s; a paused run's deferred requests still go through it.
    ``conversation_id`` is left to its default on reading (a fresh id per segment either way).
    """
    if pending is not None:
        from pydantic_ai.conversation import Conversation, ConversationTypeAdapter

        return ConversationTypeAdapter.dump_json(
            Conversation(messages=messages, usage=usage, deferred_tool_requests=pending)
        )
    import pydantic_core
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    return b"".join(
        (
            b'{"messages":',
            ModelMessagesTypeAdapter.dump_json(messages),
            b',"usage":',
            pydantic_core.to_json(usage),
            b"}",
        )
    )


def load(run_id: str) -> Checkpoint:
    """The stored conversation (empty when the run has none)."""
    from pydantic_ai.conversation import ConversationTypeAdapter

    snaps = db.query(repository.run_ref(run_id).collection(CONVERSATION).order_by("__name__"))
    segments: dict[int, list[tuple[int, int, bytes]]] = {}
    for snap in snaps:
        doc = snap.to_dict() or {}
        segments.setdefault(int(doc["segment"]), []).append(
            (int(doc["part"]), int(doc["parts"]), bytes(doc["data"]))
        )
    checkpoint = Checkpoint()
    for index in sorted(segments):
        parts = sorted(segments[index])
        if index != checkpoint.segments or len(parts) != parts[0][1]:
            break  # an incomplete write cannot happen (one transaction); stop at any gap anyway
        conversation = ConversationTypeAdapter.validate_json(b"".join(data for _, _, data in parts))
        checkpoint.messages.extend(conversation.messages)
        checkpoint.usage = conversation.usage
        checkpoint.pending = conversation.deferred_tool_requests
        checkpoint.segments += 1
    return checkpoint


def delete_all(run_id: str) -> None:
    """Drop a finished run's stored conversation (it is only needed to continue the run)."""
    refs = [snap.reference for snap in db.query(repository.run_ref(run_id).collection(CONVERSATION))]
    for start in range(0, len(refs), 400):

        def build(batch: db.CountingWrites, chunk: list[Any] = refs[start : start + 400]) -> None:
            for ref in chunk:
                batch.delete(ref)

        db.commit_batch(build)
