"""Stored listings: ``listings/{id}`` (current snapshot, sort keys, ``deleted`` flag),
``listings/{id}/versions/{agent version}`` (immutable snapshots, created once),
``listing_agents/{agent_id}`` (which listing an agent is published as) and
``installs/{listing}_{user}`` (who installed what: the verified-rating rule reads it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import db
from shared.agents.definition import AgentDefinition
from shared.errors import Forbidden, NotFound
from shared.marketplace.schemas import ListingCreate, ListingRecord, ManifestMcpServer
from shared.marketplace.tokens import listing_keys

if TYPE_CHECKING:
    from shared.agents.repository import AgentRecord
    from shared.auth.principal import Principal

LISTINGS = "listings"
VERSIONS = "versions"
LISTING_AGENTS = "listing_agents"
INSTALLS = "installs"


def listing_ref(listing_id: str) -> Any:
    return db.collection(LISTINGS).document(listing_id)


def not_found(listing_id: str) -> NotFound:
    return NotFound(f"listing '{listing_id}' not found", details={"listing_id": listing_id})


def record_of(listing_id: str, data: dict[str, Any]) -> ListingRecord:
    return ListingRecord.model_validate({**data, "id": listing_id})


def _doc(record: ListingRecord) -> dict[str, Any]:
    data = record.model_dump(mode="python", exclude={"id"})
    data["definition"] = record.definition.model_dump(mode="json")
    data["stats"] = record.stats.model_dump(mode="json")
    return data


def get_listing(listing_id: str) -> ListingRecord:
    """A live listing; deleted or unknown → 404."""
    record = db.load(LISTINGS, listing_id, ListingRecord)
    if record is None or record.deleted:
        raise not_found(listing_id)
    return record


@dataclass(frozen=True)
class Published:
    record: ListingRecord
    created: bool


def publish(
    agent: AgentRecord,
    snapshot: AgentDefinition,
    body: ListingCreate,
    principal: Principal,
    mcp_servers: list[ManifestMcpServer] | None = None,
) -> Published:
    """Create the agent's listing, or move its live listing to ``agent``'s version.

    One transaction over the ``listing_agents`` pointer and the listing, so concurrent
    publishes of one agent end with one listing. A listing removed by moderation cannot be
    brought back by republishing (403); one the owner deleted is replaced by a new listing.
    """
    pointer_ref = db.collection(LISTING_AGENTS).document(agent.id)
    now = datetime.now(UTC)

    def run(tx: db.Tx) -> Published:
        pointer = tx.get(pointer_ref)
        pointer_data = pointer.to_dict() if pointer.exists else None
        current: ListingRecord | None = None
        if pointer_data:
            snap = tx.get(listing_ref(str(pointer_data["listing_id"])))
            data = snap.to_dict() if snap.exists else None
            if data and data.get("removed_by_moderation"):
                raise Forbidden(
                    "this agent's listing was removed by a moderator and cannot be republished",
                    code="listing_removed",
                )
            if data and not data.get("deleted"):
                current = record_of(snap.id, data)
        fields: dict[str, Any] = {
            "agent_id": agent.id,
            "owner_id": agent.owner_id,
            "owner_username": principal.username,
            "name": snapshot.name,
            "display_name": snapshot.display_name,
            "description": snapshot.description,
            "summary": body.summary if body.summary is not None else (current.summary if current else ""),
            "category": body.category,
            "tags": body.tags,
            "version": agent.version,
            "definition": snapshot,
            "updated_at": now,
            "eval_dataset_id": body.eval_dataset_id or (current.eval_dataset_id if current else None),
            "mcp_servers": mcp_servers or [],
        }
        fields["search_keys"] = listing_keys(
            name=fields["name"],
            display_name=fields["display_name"],
            description=fields["description"],
            summary=fields["summary"],
            tags=fields["tags"],
        )
        snapshot_needed = current is None or current.version != agent.version
        if current is None:
            record = ListingRecord(id=uuid.uuid4().hex, published_at=now, **fields)
        else:
            record = current.model_copy(update=fields)
        version_ref = listing_ref(record.id).collection(VERSIONS).document(str(agent.version))
        # Reads before writes (a transaction rule): an older publish may hold this version.
        if current is not None and snapshot_needed and tx.get(version_ref).exists:
            snapshot_needed = False
        doc = _doc(record)
        if current is None:
            tx.create(listing_ref(record.id), doc)
            tx.set(pointer_ref, {"listing_id": record.id, "agent_id": agent.id, "updated_at": now})
        else:
            tx.update(listing_ref(record.id), {k: doc[k] for k in (*fields, "search_keys")})
        if snapshot_needed:
            tx.create(
                version_ref,
                {"version": agent.version, "definition": doc["definition"], "published_at": now},
            )
        created = current is None
        return Published(record, created)

    return db.run_transaction(run)


def delete_listing(listing_id: str, principal: Principal) -> None:
    """Soft-delete: owner, moderator or admin. Others cannot see whether it exists (404)."""
    record = get_listing(listing_id)
    is_owner = record.owner_id == principal.user_id
    if not is_owner and not principal.is_moderator:
        raise Forbidden("only the owner, a moderator or an admin can remove a listing")
    now = datetime.now(UTC)
    db.update(
        listing_ref(listing_id),
        {
            "deleted": True,
            "deleted_at": now,
            "deleted_by": principal.user_id,
            "removed_by_moderation": not is_owner,
            "updated_at": now,
        },
    )


def install_marker_ref(listing_id: str, user_id: str) -> Any:
    return db.collection(INSTALLS).document(f"{listing_id}_{user_id}")


def mark_installed(listing_id: str, user_id: str, agent_id: str) -> bool:
    """Record that ``user_id`` installed the listing (as ``agent_id``, the copy a reinstall
    returns); True the first time (counts an install)."""
    from google.api_core.exceptions import AlreadyExists, Conflict

    ref = install_marker_ref(listing_id, user_id)
    now = datetime.now(UTC)
    try:
        db.create(
            ref,
            {
                "listing_id": listing_id,
                "user_id": user_id,
                "first_agent_id": agent_id,
                "agent_id": agent_id,
                "installed_at": now,
            },
        )
    except (AlreadyExists, Conflict):
        db.update(ref, {"agent_id": agent_id, "reinstalled_at": now})
        return False
    return True


def installed_agent_id(listing_id: str, user_id: str) -> str | None:
    """The agent id of the user's latest copy of the listing, if they installed it."""
    snap = db.get(install_marker_ref(listing_id, user_id))
    data = snap.to_dict() if snap.exists else None
    if not data:
        return None
    agent_id = data.get("agent_id") or data.get("first_agent_id")
    return str(agent_id) if agent_id else None


def has_installed(listing_id: str, user_id: str) -> bool:
    snap = db.get(install_marker_ref(listing_id, user_id))
    return snap.exists


def list_versions(listing_id: str) -> list[dict[str, Any]]:
    """The listing's published versions, newest first (the history an installer compares)."""
    from google.cloud.firestore import Query

    query: Any = listing_ref(listing_id).collection(VERSIONS).order_by("version", direction=Query.DESCENDING)
    return [s.to_dict() or {} for s in db.query(query)]
