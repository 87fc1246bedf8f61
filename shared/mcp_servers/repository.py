"""Stored registrations ``mcp_servers/{id}`` and credentials ``mcp_servers/{id}/credentials/{user_id}``.

Owner-only: anyone else's registration is a 404. Listing is one indexed query
(``owner_id ==``, ``created_at desc``).
"""

from __future__ import annotations

from typing import Any

from shared import db
from shared.errors import NotFound
from shared.mcp_servers.schemas import McpServerRecord
from shared.pagination import newest_first

SERVERS = "mcp_servers"
CREDENTIALS = "credentials"
OAUTH_STATES = "mcp_oauth_states"


def server_ref(server_id: str) -> Any:
    return db.collection(SERVERS).document(server_id)


def credential_ref(server_id: str, user_id: str) -> Any:
    return server_ref(server_id).collection(CREDENTIALS).document(user_id)


def oauth_state_ref(state: str) -> Any:
    return db.collection(OAUTH_STATES).document(state)


def not_found(server_id: str) -> NotFound:
    return NotFound(f"MCP server '{server_id}' not found", details={"server_id": server_id})


def to_doc(record: McpServerRecord) -> dict[str, Any]:
    return record.model_dump(mode="python", exclude={"id"})


def server_from(doc_id: str, data: dict[str, Any]) -> McpServerRecord:
    return McpServerRecord.model_validate({**data, "id": doc_id})


def load_server(server_id: str) -> McpServerRecord | None:
    return db.load(SERVERS, server_id, McpServerRecord)


def get_server(server_id: str, owner_id: str) -> McpServerRecord:
    record = load_server(server_id)
    if record is None or record.owner_id != owner_id:
        raise not_found(server_id)
    return record


def load_servers(server_ids: list[str]) -> dict[str, McpServerRecord]:
    ids = [i for i in dict.fromkeys(server_ids) if db.is_valid_doc_id(i)]
    found: dict[str, McpServerRecord] = {}
    for snap in db.get_all([server_ref(i) for i in ids]):
        data = snap.to_dict() if snap.exists else None
        if data:
            found[snap.id] = server_from(snap.id, data)
    return found


def list_servers(
    owner_id: str, *, limit: int, cursor: str | None
) -> tuple[list[McpServerRecord], str | None]:
    return newest_first(
        db.collection(SERVERS),
        equals={"owner_id": owner_id},
        limit=limit,
        cursor=cursor,
        parse=server_from,
        position=lambda r: (r.created_at, r.id),
    )


def count_servers(owner_id: str) -> int:
    return db.count_owned(SERVERS, owner_id)


def find_by_url(owner_id: str, url: str) -> McpServerRecord | None:
    """The owner's registration of ``url`` (marketplace installs reuse it)."""
    from google.cloud.firestore import FieldFilter

    query: Any = db.collection(SERVERS)
    query = query.where(filter=FieldFilter("owner_id", "==", owner_id)).where(
        filter=FieldFilter("url", "==", url)
    )
    snaps = db.query(query.limit(1))
    return server_from(snaps[0].id, snaps[0].to_dict() or {}) if snaps else None


def has_credential(server_id: str, user_id: str) -> bool:
    return bool(db.get(credential_ref(server_id, user_id)).exists)


def delete_credentials(server_id: str) -> None:
    creds: Any = server_ref(server_id).collection(CREDENTIALS)
    while True:
        snaps = db.query(creds.limit(200))
        if not snaps:
            return
        refs = [s.reference for s in snaps]

        def remove(batch: db.CountingWrites, refs: list[Any] = refs) -> None:
            for ref in refs:
                batch.delete(ref)

        db.commit_batch(remove)
        if len(snaps) < 200:
            return


def delete_server(server_id: str) -> None:
    """The registration and every credential stored for it."""
    delete_credentials(server_id)
    db.delete(server_ref(server_id))
