"""User records. Usernames (case-insensitively) and emails are unique through
reserved-key documents created in the same transaction as the user."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from shared import db
from shared.auth.principal import Role
from shared.errors import Conflict, Contended, NotFound

USERS = "users"
USERNAMES = "usernames"
EMAILS = "emails"
FIREBASE_UIDS = "firebase_uids"


class UserRecord(BaseModel):
    id: str
    username: str
    email: str
    role: Role = "user"
    is_active: bool = True
    password_hash: str | None = None
    firebase_uid: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime | None = None

    @classmethod
    def from_doc(cls, user_id: str, data: dict[str, Any]) -> UserRecord:
        return cls.model_validate({**data, "id": user_id})


class UserPublic(BaseModel):
    """A user as the API shows it (no hash, no provider ids)."""

    id: str
    username: str
    email: str
    role: Role
    is_active: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, user: UserRecord) -> UserPublic:
        return cls.model_validate(user.model_dump(include=set(cls.model_fields)))


def username_key(username: str) -> str:
    return username.strip().casefold()


def email_key(email: str) -> str:
    return email.strip().casefold()


def get_user(user_id: str) -> UserRecord | None:
    snap = db.get(db.collection(USERS).document(user_id))
    data = snap.to_dict() if snap.exists else None
    return UserRecord.from_doc(user_id, data) if data else None


def reservation_id(key: str) -> str:
    """The id of the document reserving ``key``: the key itself where Firestore takes it as an
    id (every username, nearly every address), else a digest of it (an address with '/' in
    its local part, a valid one). A digest has no '@', so it never meets an address."""
    if db.is_firestore_doc_id(key):
        return key
    return "sha256~" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def find_user_id_by_username(username: str) -> str | None:
    return _reserved_user_id(USERNAMES, username_key(username))


def _reserved_user_id(collection_name: str, key: str) -> str | None:
    snap = db.get(db.collection(collection_name).document(reservation_id(key)))
    data = snap.to_dict() if snap.exists else None
    return str(data["user_id"]) if data else None


def find_user_id_by_email(email: str) -> str | None:
    return _reserved_user_id(EMAILS, email_key(email))


def find_user_id_by_firebase_uid(firebase_uid: str) -> str | None:
    return _reserved_user_id(FIREBASE_UIDS, firebase_uid)


def update_user(user_id: str, changes: dict[str, Any]) -> UserRecord:
    """Apply ``changes`` (fields of UserRecord) to an existing user; 404 if there is none."""
    ref = db.collection(USERS).document(user_id)
    fields = {**changes, "updated_at": dt.datetime.now(dt.UTC)}

    def apply(tx: db.Tx) -> UserRecord:
        snap = tx.get(ref)
        data = snap.to_dict() if snap.exists else None
        if not data:
            raise NotFound(f"user '{user_id}' not found")
        tx.update(ref, fields)
        return UserRecord.from_doc(user_id, {**data, **fields})

    return db.run_transaction(apply)


def set_password_hash(user_id: str, password_hash: str) -> None:
    """Replace a user's password hash (rehash on login); the user must exist."""
    db.update(
        db.collection(USERS).document(user_id),
        {"password_hash": password_hash, "updated_at": dt.datetime.now(dt.UTC)},
    )


_REGISTRATION_ROUNDS = 3


def _username_taken() -> Conflict:
    return Conflict("username is already taken", code="username_taken", details={"field": "username"})


def _email_taken() -> Conflict:
    return Conflict("email is already registered", code="email_taken", details={"field": "email"})


def _register_despite_contention(register: Callable[[db.Tx], None], name_ref: Any, email_ref: Any) -> None:
    """Racing registrations abort each other's transactions. When a round of attempts runs
    out, whichever request won holds the name or the email, and that is this request's answer
    (409); when none has committed yet, wait a little (jittered) and try again, and answer 503
    (retryable) only after a few rounds."""
    for round_ in range(_REGISTRATION_ROUNDS):
        try:
            db.run_transaction(register)
            return
        except Contended:
            name_snap, email_snap = db.get_all([name_ref, email_ref])
            if name_snap.exists:
                raise _username_taken() from None
            if email_snap.exists:
                raise _email_taken() from None
            if round_ == _REGISTRATION_ROUNDS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.3))


def create_user(
    *,
    username: str,
    email: str,
    password_hash: str | None,
    role: Role = "user",
    firebase_uid: str | None = None,
) -> UserRecord:
    """Create a user, reserving its username and email atomically; 409 if either is taken."""
    user_id = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    record = UserRecord(
        id=user_id,
        username=username,
        email=email,
        role=role,
        password_hash=password_hash,
        firebase_uid=firebase_uid,
        created_at=now,
        updated_at=now,
    )
    users = db.collection(USERS)
    name_ref = db.collection(USERNAMES).document(reservation_id(username_key(username)))
    email_ref = db.collection(EMAILS).document(reservation_id(email_key(email)))
    uid_ref = db.collection(FIREBASE_UIDS).document(reservation_id(firebase_uid)) if firebase_uid else None

    def register(tx: db.Tx) -> None:
        refs = [name_ref, email_ref] + ([uid_ref] if uid_ref else [])
        taken = [s for s in tx.get_all(refs) if s.exists]
        if any(s.reference.path == name_ref.path for s in taken):
            raise _username_taken()
        if any(s.reference.path == email_ref.path for s in taken):
            raise _email_taken()
        if taken:
            raise Conflict("identity is already linked", code="identity_taken")
        # create() (not set) makes the commit fail if a concurrent registration won the race.
        tx.create(name_ref, {"user_id": user_id})
        tx.create(email_ref, {"user_id": user_id})
        if uid_ref:
            tx.create(uid_ref, {"user_id": user_id})
        tx.create(users.document(user_id), record.model_dump(exclude={"id"}))

    try:
        _register_despite_contention(register, name_ref, email_ref)
    except Conflict:
        raise
    except Exception as exc:
        from google.api_core import exceptions as gexc

        if isinstance(exc, gexc.AlreadyExists | gexc.Conflict | gexc.Aborted):
            raise Conflict("username or email is already taken", code="duplicate") from None
        raise
    return record
