"""The run-event store: ``runs/{id}/events/{seq}`` (zero-padded sequence numbers).

Every event gets a sequence number when it happens (the SSE ``id:`` of live streams). Text
deltas are coalesced into one stored event per ``RUN_EVENT_FLUSH_SECONDS`` window (or
``RUN_EVENT_FLUSH_CHARS``), so a long answer costs a few writes, not one per token. A stored
delta event covers the sequence numbers ``seq_first..seq`` and records where each one starts
(``offsets``), so a reader resuming after any sequence number gets exactly the text it missed.

Writes happen on a background task (off the streaming path) and are awaited by ``close()``.

Readers: :func:`read_events` (``after`` = the last sequence number the client has, e.g. its
``Last-Event-ID``). Each returned event's ``id`` is the last sequence number it covers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import db
from shared.settings import get_settings

_log = logging.getLogger(__name__)

EVENTS = "events"
SEQ_WIDTH = 10
MAX_READ = 1000
MAX_BATCH = 400  # events per commit (Firestore allows 500 writes)


def event_doc_id(seq: int) -> str:
    return str(seq).zfill(SEQ_WIDTH)


def _events(run_id: str) -> Any:
    runs: Any = db.collection("runs")
    return runs.document(run_id).collection(EVENTS)


@dataclass
class StoredEvent:
    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime | None = None


@dataclass
class _Pending:
    seq: int
    type: str
    data: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class RunEventWriter:
    """Assigns sequence numbers and stores a run's events (coalescing text deltas)."""

    def __init__(self, run_id: str, *, start_after: int = 0) -> None:
        self.run_id = run_id
        self.last_seq = start_after
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.failed_writes = 0

    def add(self, event_type: str, data: dict[str, Any]) -> int:
        """Queue an event for storage; returns its sequence number (never blocks)."""
        self.last_seq += 1
        self._queue.put_nowait(_Pending(self.last_seq, event_type, data))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return self.last_seq

    async def close(self) -> None:
        """Store everything queued so far."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await asyncio.shield(self._task)

    async def _drain(self) -> None:
        carry: _Pending | None = None
        done = False
        while not done:
            item = carry if carry is not None else await self._queue.get()
            carry = None
            docs: list[tuple[int, dict[str, Any]]] = []
            # Everything already queued goes into the same commit (one round trip, not one
            # per event); a text delta first gathers the deltas of its flush window.
            while item is not None and len(docs) < MAX_BATCH:
                if item.type == "text.delta":
                    doc, carry, done = await self._coalesce(item)
                else:
                    doc = _stored(item.seq, item.seq, item.type, item.data)
                docs.append((item.seq, doc))
                if done:
                    break
                if carry is not None:
                    item, carry = carry, None
                elif self._queue.empty():
                    break
                else:
                    item = self._queue.get_nowait()
            else:
                if item is None:
                    done = True
                elif len(docs) >= MAX_BATCH:
                    carry = item
            if docs:
                await self._write(docs)

    async def _coalesce(self, item: _Pending) -> tuple[dict[str, Any], _Pending | None, bool]:
        """One stored delta from ``item`` and the deltas after it: (doc, next item, queue closed)."""
        settings = get_settings()
        window, max_chars = settings.run_event_flush_seconds, settings.run_event_flush_chars
        text = str(item.data.get("delta", ""))
        offsets: list[list[int]] = [[item.seq, 0]]
        last = item.seq
        deadline = item.at + window
        carry: _Pending | None = None
        done = False
        while len(text) < max_chars:
            remaining = deadline - time.monotonic()
            try:
                nxt = (
                    self._queue.get_nowait()
                    if remaining <= 0
                    else await asyncio.wait_for(self._queue.get(), remaining)
                )
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if nxt is None:
                done = True
                break
            # Deltas of different workflow steps (``step`` tag) are never merged.
            if nxt.type != "text.delta" or nxt.data.get("step") != item.data.get("step"):
                carry = nxt
                break
            offsets.append([nxt.seq, len(text)])
            text += str(nxt.data.get("delta", ""))
            last = nxt.seq
        doc = _stored(item.seq, last, "text.delta", {**item.data, "delta": text})
        doc["offsets"] = [o for pair in offsets for o in pair]
        return doc, carry, done

    async def _write(self, docs: list[tuple[int, dict[str, Any]]]) -> None:
        collection = _events(self.run_id)

        def build(batch: db.CountingWrites) -> None:
            for seq, doc in docs:
                batch.set(collection.document(event_doc_id(seq)), doc)

        try:
            await asyncio.to_thread(db.commit_batch, build)
        except Exception:
            # The run record stays the source of truth; a lost event only affects replay.
            self.failed_writes += 1
            _log.warning("could not store run events", extra={"run_id": self.run_id}, exc_info=True)


def _stored(seq_first: int, seq: int, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq_first": seq_first,
        "seq": seq,
        "type": event_type,
        "data": data,
        "created_at": datetime.now(UTC),
    }


def _slice_delta(doc: dict[str, Any], after: int) -> dict[str, Any]:
    """The part of a coalesced delta after sequence number ``after``."""
    flat: list[int] = list(doc.get("offsets") or [])
    pairs = list(zip(flat[0::2], flat[1::2], strict=False))
    start = next((offset for seq, offset in pairs if seq > after), None)
    text = str(doc["data"].get("delta", ""))
    return {**doc["data"], "delta": text[start:] if start is not None else ""}


def read_events(run_id: str, *, after: int = 0, limit: int = MAX_READ) -> list[StoredEvent]:
    """Stored events with sequence numbers above ``after``, in order."""
    from google.cloud.firestore import FieldFilter

    query: Any = _events(run_id).where(filter=FieldFilter("seq", ">", after)).order_by("seq").limit(limit)
    found: list[StoredEvent] = []
    for snap in db.query(query):
        doc = snap.to_dict() or {}
        data: dict[str, Any] = dict(doc.get("data") or {})
        if doc.get("type") == "text.delta" and int(doc.get("seq_first", 0)) <= after:
            data = _slice_delta(doc, after)
        created = doc.get("created_at")
        found.append(
            StoredEvent(
                id=int(doc["seq"]),
                type=str(doc["type"]),
                data=data,
                created_at=created if isinstance(created, datetime) else None,
            )
        )
    return found


def last_event_seq(run_id: str) -> int:
    """The highest stored sequence number (0 if none): a new attempt continues after it."""
    from google.cloud.firestore import Query

    snaps = db.query(_events(run_id).order_by("seq", direction=Query.DESCENDING).limit(1))
    return int((snaps[0].to_dict() or {}).get("seq", 0)) if snaps else 0
