"""Agent names are unique per owner: ``agent_names/{owner}_{sha256(name)}`` → ``{agent_id}``.

The reservation is *created* in the same commit as the agent (create, rename) and deleted with
it (delete, rename), so of two concurrent requests for one name exactly one commits
(``claiming``). Agents stored before reservations existed get theirs from ``backfill``
(``python -m tools.backfill_agent_names``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from shared import db
from shared.errors import Conflict

T = TypeVar("T")

AGENTS = "agents"
AGENT_NAMES = "agent_names"


def agent_ref(agent_id: str) -> Any:
    return db.collection(AGENTS).document(agent_id)


def name_ref(owner_id: str, name: str) -> Any:
    digest = hashlib.sha256(name.encode()).hexdigest()[:40]
    return db.collection(AGENT_NAMES).document(f"{owner_id}_{digest}")


def name_taken(name: str, agent_id: str) -> Conflict:
    return Conflict(
        f"you already have an agent named '{name}': choose another name",
        code="name_taken",
        details={"name": name, "agent_id": agent_id},
    )


def name_doc(owner_id: str, name: str, agent_id: str) -> dict[str, Any]:
    return {"owner_id": owner_id, "name": name, "agent_id": agent_id}


def release_name(tx: db.Tx, owner_id: str, name: str, agent_id: str) -> Any:
    """The reservation of ``name`` to delete if ``agent_id`` holds it (read in ``tx``), else None."""
    ref = name_ref(owner_id, name)
    snap = tx.get(ref)
    return ref if snap.exists and (snap.to_dict() or {}).get("agent_id") == agent_id else None


def _live_holder(
    data: dict[str, Any] | None, holder: dict[str, Any] | None, owner_id: str, name: str
) -> bool:
    return bool(
        data
        and holder
        and not holder.get("deleted")
        and (holder.get("name"), holder.get("owner_id")) == (name, owner_id)
    )


def _clear_stale_name(owner_id: str, name: str) -> None:
    """After a create of the reservation failed: 409 ``name_taken`` if a live agent holds the
    name; else the reservation is stale (its agent was deleted or renamed without releasing
    it) and is removed, in a transaction that re-checks it, so the create can be retried."""
    ref = name_ref(owner_id, name)

    def clear(tx: db.Tx) -> None:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        holder_id = str((data or {}).get("agent_id") or "")
        holder = tx.get(agent_ref(holder_id)) if holder_id else None
        held = holder.to_dict() if holder is not None and holder.exists else None
        if _live_holder(data, held, owner_id, name):
            raise name_taken(name, holder_id)
        if data is not None:
            tx.delete(ref)

    db.run_transaction(clear)


def check_name_free(owner_id: str, name: str) -> None:
    """409 ``name_taken`` if a live agent of ``owner_id`` holds ``name``: a pre-check for
    callers that write something else before the agent (the create still decides races)."""
    snap = db.get(name_ref(owner_id, name))
    data = snap.to_dict() if snap.exists else None
    holder_id = str((data or {}).get("agent_id") or "")
    if not holder_id:
        return
    holder = db.get(agent_ref(holder_id))
    if _live_holder(data, holder.to_dict() if holder.exists else None, owner_id, name):
        raise name_taken(name, holder_id)


def claiming(owner_id: str, name: str, write: Callable[[], T]) -> T:
    """Run ``write``, which *creates* the reservation of ``name`` with the agent's own writes,
    without reading it first: the create is a precondition checked atomically at commit, so
    of two racing writers exactly one wins and nothing of the loser is written (no read lock
    is held, so racing requests never queue on the reservation). The loser is told
    ``name_taken``; a stale reservation is cleared and the write tried again."""
    from google.api_core.exceptions import AlreadyExists

    for _ in range(3):
        try:
            return write()
        except AlreadyExists:
            _clear_stale_name(owner_id, name)
    return write()


@dataclass
class BackfillReport:
    """What ``backfill`` did: reservations created, and names two live agents already share."""

    agents: int = 0
    reserved: int = 0
    already_reserved: int = 0
    # (owner_id, name, agent id that holds the name, agent id left without it)
    duplicates: list[tuple[str, str, str, str]] = field(default_factory=list[tuple[str, str, str, str]])


def backfill(page_size: int = 300) -> BackfillReport:
    """Reserve the name of every live agent that has no reservation (agents stored before names
    were unique). Safe to run again and beside live traffic: each reservation is *created*, so
    a name claimed meanwhile is never overwritten. Where two live agents of one owner already
    share a name, the older keeps it (unless the newer already holds it) and the pair is
    reported for the owner to rename; nothing is renamed or deleted here."""
    report = BackfillReport()
    agents: Any = db.collection(AGENTS)
    query: Any = agents.order_by("created_at").order_by("__name__")
    last: Any = None
    while True:
        page = query.start_after(last).limit(page_size) if last is not None else query.limit(page_size)
        snapshots = db.query(page)
        for snapshot in snapshots:
            data = snapshot.to_dict() or {}
            if data.get("deleted"):
                continue
            report.agents += 1
            owner_id, name, agent_id = str(data["owner_id"]), str(data["definition"]["name"]), snapshot.id
            ref = name_ref(owner_id, name)
            try:
                claiming(owner_id, name, partial(db.create, ref, name_doc(owner_id, name, agent_id)))
                report.reserved += 1
            except Conflict as taken:  # a live agent holds the name: this one, or a duplicate
                holder = str(taken.details.get("agent_id", ""))
                if holder == agent_id:
                    report.already_reserved += 1
                else:
                    report.duplicates.append((owner_id, name, holder, agent_id))
        if len(snapshots) < page_size:
            return report
        last = snapshots[-1]
