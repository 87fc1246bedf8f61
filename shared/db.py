"""The data layer: every Firestore read and write goes through these helpers.

They count document reads and writes (as Firestore bills them) per request and per
process, so benchmarks and tests can pin the cost of each operation, and they turn a
backend outage into ``ServiceUnavailable`` (503 with ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

from pydantic import BaseModel

from shared.db_values import decode, encode
from shared.errors import Contended, ServiceUnavailable

if TYPE_CHECKING:
    from google.cloud.firestore import (
        Client,
        CollectionReference,
        DocumentReference,
        Query,
        Transaction,
        WriteBatch,
    )


class Snapshot(Protocol):
    """The part of a Firestore document snapshot the service uses (fully typed)."""

    @property
    def exists(self) -> bool: ...

    @property
    def id(self) -> str: ...

    @property
    def reference(self) -> DocumentReference: ...

    def to_dict(self) -> dict[str, Any] | None: ...


class _Read:
    """A snapshot whose data is decoded (``shared.db_values``): values stored as text come back
    as the JSON they were."""

    __slots__ = ("_snap",)

    def __init__(self, snap: Any) -> None:
        self._snap = snap

    @property
    def exists(self) -> bool:
        return bool(self._snap.exists)

    @property
    def id(self) -> str:
        return str(self._snap.id)

    @property
    def reference(self) -> DocumentReference:
        return self._snap.reference

    def to_dict(self) -> dict[str, Any] | None:
        data = self._snap.to_dict()
        return None if data is None else decode(data)


P = ParamSpec("P")
T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)

# Short deadlines: a stopped emulator or a regional outage must fail fast with a 503.
RPC_TIMEOUT_SECONDS = 10.0


@dataclass
class OpCounter:
    reads: int = 0
    writes: int = 0

    def snapshot(self) -> tuple[int, int]:
        return self.reads, self.writes


_lock = threading.Lock()
PROCESS_TOTALS = OpCounter()
_current: contextvars.ContextVar[OpCounter | None] = contextvars.ContextVar("firestore_ops", default=None)


def _dyn(obj: object) -> Any:
    """The Google client libraries are only partly typed; call them through ``Any`` here."""
    return obj


def _add(reads: int = 0, writes: int = 0) -> None:
    counter = _current.get()
    # Locked: a request's counter may be shared with a helper thread (the principal re-read).
    with _lock:
        PROCESS_TOTALS.reads += reads
        PROCESS_TOTALS.writes += writes
        if counter is not None:
            counter.reads += reads
            counter.writes += writes


@contextlib.contextmanager  # pyright: ignore[reportDeprecated]
def measure() -> Iterator[OpCounter]:
    """Count the reads and writes made inside the block (this context only)."""
    counter = OpCounter()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def current_counter() -> OpCounter | None:
    return _current.get()


QueryObserver = Callable[["Query | CollectionReference", "str | None"], None]
# Called with every query before it runs (and the summed field, for sums). The test suite
# records each query's shape to check it against infra/firestore.indexes.json: the emulator
# serves any query, Firestore refuses one whose composite index is not declared.
query_observers: list[QueryObserver] = []


def _observe(q: Query | CollectionReference, summed_field: str | None = None) -> None:
    for observer in query_observers:
        observer(q, summed_field)


def _is_unavailable(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(
        exc, gexc.ServiceUnavailable | gexc.DeadlineExceeded | gexc.RetryError | gexc.InternalServerError
    )


def guard(fn: Callable[P, T]) -> Callable[P, T]:
    """Translate backend outages raised by ``fn`` into ``ServiceUnavailable``."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _is_unavailable(exc):
                raise ServiceUnavailable("the database is unavailable", retry_after=2) from exc
            raise

    return wrapper


def client() -> Client:
    from shared.clients import firestore_client

    return firestore_client()


def collection(name: str) -> CollectionReference:
    return client().collection(name)


def _retry() -> Any:
    from google.api_core.retry import Retry

    # A couple of quick retries for transient errors, bounded by the RPC deadline.
    return Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=RPC_TIMEOUT_SECONDS)


@guard
def get(ref: DocumentReference, *, transaction: Transaction | None = None) -> Snapshot:
    snap = _dyn(ref).get(transaction=transaction, retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(reads=1)
    return _Read(snap)


def is_firestore_doc_id(doc_id: str) -> bool:
    """Whether Firestore accepts ``doc_id`` as a document id: not empty, no '/', not '.' or
    '..', not ``__x__``, at most 1,500 bytes of UTF-8 (it answers an error, a 500, otherwise)."""
    return (
        bool(doc_id)
        and "/" not in doc_id
        and doc_id not in (".", "..")
        and not (len(doc_id) >= 4 and doc_id.startswith("__") and doc_id.endswith("__"))
        and len(doc_id.encode("utf-8", "replace")) <= 1500
    )


def is_valid_doc_id(doc_id: str) -> bool:
    """Whether ``doc_id`` can be one of our document ids (ours are uuid hex, 128 characters at
    most). Refusing anything else early keeps it out of Firestore and makes an unknown id a
    plain 404."""
    return len(doc_id) <= 128 and is_firestore_doc_id(doc_id)


def load(collection_name: str, doc_id: str, model: type[ModelT]) -> ModelT | None:
    """``collection_name/doc_id`` as ``model`` (with ``id`` set), or None if the id is not
    valid (see :func:`is_valid_doc_id`) or no such document exists."""
    if not is_valid_doc_id(doc_id):
        return None
    snap = get(collection(collection_name).document(doc_id))
    data = snap.to_dict() if snap.exists else None
    return model.model_validate({**data, "id": doc_id}) if data else None


@guard
def get_all(refs: Sequence[DocumentReference], *, transaction: Transaction | None = None) -> list[Snapshot]:
    if not refs:
        return []
    snaps: list[Snapshot] = [
        _Read(s)
        for s in _dyn(client()).get_all(
            list(refs), transaction=transaction, retry=_retry(), timeout=RPC_TIMEOUT_SECONDS
        )
    ]
    _add(reads=len(refs))
    by_path = {s.reference.path: s for s in snaps}
    return [by_path[r.path] for r in refs]


@guard
def query(q: Query | CollectionReference, *, transaction: Transaction | None = None) -> list[Snapshot]:
    _observe(q)
    snaps: list[Snapshot] = [
        _Read(s) for s in _dyn(q).stream(transaction=transaction, retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    ]
    # Firestore bills at least one read for a query, even an empty one.
    _add(reads=max(1, len(snaps)))
    return snaps


@guard
def count(q: Query | CollectionReference) -> int:
    _observe(q)
    result = _dyn(q).count(alias="n").get(retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(reads=1)
    return int(result[0][0].value)


def count_owned(collection_name: str, owner_id: str) -> int:
    """How many documents of ``collection_name`` ``owner_id`` owns (field ``owner_id``): the
    per-user quotas' one count query."""
    from google.cloud.firestore import FieldFilter

    query: Any = collection(collection_name)
    return count(query.where(filter=FieldFilter("owner_id", "==", owner_id)))


@guard
def sum_of(q: Query | CollectionReference, field: str) -> float:
    """Server-side sum of a numeric field over a query (non-numeric values are skipped)."""
    _observe(q, field)
    result = _dyn(q).sum(field, alias="s").get(retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(reads=1)
    return float(result[0][0].value or 0)


@guard
def create(ref: DocumentReference, data: dict[str, Any]) -> None:
    _dyn(ref).create(encode(data), retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(writes=1)


@guard
def set(ref: DocumentReference, data: dict[str, Any], *, merge: bool = False) -> None:
    _dyn(ref).set(encode(data), merge=merge, retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(writes=1)


@guard
def increment_and_get(
    ref: DocumentReference, field: str, amount: int, extra: dict[str, Any] | None = None
) -> int:
    """Atomically add ``amount`` to ``field`` (creating the document) and return the new value.

    One write, no read and no transaction: the value comes back in the commit's transform
    result, so concurrent callers each see the count their own increment produced.
    """
    from google.cloud import firestore

    data: dict[str, Any] = {**encode(extra or {}), field: firestore.Increment(amount)}
    result = _dyn(ref).set(data, merge=True, retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(writes=1)
    return int(result.transform_results[0].integer_value)


@guard
def update(ref: DocumentReference, data: dict[str, Any]) -> None:
    ref.update(encode(data), retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(writes=1)


@guard
def delete(ref: DocumentReference) -> None:
    ref.delete(retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)
    _add(writes=1)


class CountingWrites:
    """Wraps a transaction or batch so its writes are counted when committed."""

    def __init__(self, inner: Transaction | WriteBatch) -> None:
        self.inner = inner
        self.pending = 0

    def create(self, ref: DocumentReference, data: dict[str, Any]) -> None:
        self.inner.create(ref, encode(data))
        self.pending += 1

    def set(self, ref: DocumentReference, data: dict[str, Any], *, merge: bool = False) -> None:
        _dyn(self.inner).set(ref, encode(data), merge=merge)
        self.pending += 1

    def update(self, ref: DocumentReference, data: dict[str, Any]) -> None:
        self.inner.update(ref, encode(data))
        self.pending += 1

    def delete(self, ref: DocumentReference) -> None:
        self.inner.delete(ref)
        self.pending += 1


class Tx(CountingWrites):
    """A transaction handle: reads through it are transactional and counted."""

    inner: Transaction

    def get(self, ref: DocumentReference) -> Snapshot:
        return get(ref, transaction=self.inner)

    def get_all(self, refs: Sequence[DocumentReference]) -> list[Snapshot]:
        return get_all(refs, transaction=self.inner)

    def query(self, q: Query | CollectionReference) -> list[Snapshot]:
        return query(q, transaction=self.inner)


_CONTENDED = "Failed to commit transaction in"  # google-cloud-firestore's message


@guard
def run_transaction(fn: Callable[[Tx], T], *, max_attempts: int = 5) -> T:
    """Run ``fn`` in a read-write transaction, retried on contention.

    ``fn`` may be called several times; it must only touch Firestore through ``tx``.
    An exception raised by ``fn`` rolls the transaction back and propagates.
    """
    from google.cloud import firestore

    transaction = client().transaction(max_attempts=max_attempts)
    holder: dict[str, Tx] = {}

    def body(txn: Transaction) -> T:
        tx = Tx(txn)
        holder["tx"] = tx
        return fn(tx)

    transactional: Any = _dyn(firestore).transactional
    try:
        result = cast(T, transactional(body)(transaction))
    except ValueError as exc:
        # The client gives up on a contended document with a bare ValueError; that is a
        # transient condition for the caller to retry, not a server fault.
        if str(exc).startswith(_CONTENDED):
            message = "too many concurrent changes to the same data; retry"
            raise Contended(message, retry_after=1) from exc
        raise
    _add(writes=holder["tx"].pending if "tx" in holder else 0)
    return result


@guard
def commit_batch(build: Callable[[CountingWrites], None]) -> None:
    """Apply several writes atomically (no reads)."""
    batch = client().batch()
    writes = CountingWrites(batch)
    build(writes)
    if writes.pending:
        batch.commit(retry=_retry(), timeout=RPC_TIMEOUT_SECONDS)  # pyright: ignore[reportUnknownMemberType]
        _add(writes=writes.pending)


def increment(amount: int | float = 1) -> Any:
    """An atomic server-side increment (no read, no transaction contention)."""
    from google.cloud import firestore

    return firestore.Increment(amount)


def server_timestamp() -> Any:
    from google.cloud import firestore

    return firestore.SERVER_TIMESTAMP


def delete_field() -> Any:
    from google.cloud import firestore

    return firestore.DELETE_FIELD
