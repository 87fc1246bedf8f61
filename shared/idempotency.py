"""Creating a document at most once per (owner, scope, ``Idempotency-Key``).

The key is reserved in ``idempotency/<owner>:<scope>:<sha256(key)>`` in the same transaction
that creates the document, so concurrent retries can never create two; a retry with the
same key and the same request gets the first document back, a different request 409.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from shared import db
from shared.errors import Conflict

IDEMPOTENCY = "idempotency"


def key_ref(owner_id: str, scope: str, key: str) -> Any:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return db.collection(IDEMPOTENCY).document(f"{owner_id}:{scope}:{digest}")


def create_once(
    ref: Any,
    doc: dict[str, Any],
    *,
    owner_id: str,
    scope: str,
    key: str | None,
    request_hash: str | None,
    id_field: str,
    what: str,
    created_at: datetime,
) -> tuple[str, dict[str, Any]] | None:
    """Create ``doc`` at ``ref``; with a ``key``, only unless that key was used before.

    Returns None when this call created it, or the id and data of the document the first
    request with this key created. ``id_field`` names where the key document keeps that id
    (e.g. ``run_id``); ``what`` names the resource in error messages.
    """
    if key is None:
        db.create(ref, doc)
        return None
    reserved = key_ref(owner_id, scope, key)

    def create(tx: db.Tx) -> tuple[str, dict[str, Any]] | None:
        snap = tx.get(reserved)
        data = snap.to_dict() if snap.exists else None
        if data:
            if data.get("request_hash") != request_hash:
                raise Conflict(
                    "this idempotency key was already used with a different request",
                    code="idempotency_key_reused",
                )
            first_id = str(data[id_field])
            first = tx.get(ref.parent.document(first_id))
            first_data = first.to_dict() if first.exists else None
            if not first_data:
                raise Conflict(f"the {what} created with this idempotency key no longer exists")
            return first_id, first_data
        tx.create(ref, doc)
        tx.create(
            reserved,
            {
                "owner_id": owner_id,
                "scope": scope,
                id_field: ref.id,
                "request_hash": request_hash,
                "created_at": created_at,
            },
        )
        return None

    return db.run_transaction(create)
