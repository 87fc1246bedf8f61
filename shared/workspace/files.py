"""The workspace file service behind ``/workspace/files`` (the same folder the file tools use).

Built on ``shared.workspace.sandbox`` (confinement, atomic writes, size caps and the quota);
this module adds what the HTTP API needs on top:

- paths must be NFC-normalised, and a *new* path may not differ from an existing file or
  folder only by case or Unicode normalisation (``Report.md`` next to ``report.md``): on a
  case-insensitive mount (or a client syncing to one) they would be the same file;
- names starting with ``.tmp-`` are reserved for in-flight atomic writes (refused, never listed);
- listings are sorted by path with opaque cursors; file digests are cached per
  ``(path, size, mtime, inode)`` so paging does not re-hash unchanged files.
"""

from __future__ import annotations

import hashlib
import os
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import BadRequest, Conflict
from shared.pagination import decode_cursor, encode_cursor
from shared.workspace.sandbox import UnsafePath, Workspace, normalize_path

TEMP_PREFIX = ".tmp-"
_DIGEST_CACHE_SIZE = 4096
_digests: OrderedDict[tuple[str, int, int, int], str] = OrderedDict()
_digests_lock = threading.Lock()


@dataclass(frozen=True)
class WorkspaceFile:
    path: str
    size: int
    sha256: str
    updated_at: datetime


def fold(name: str) -> str:
    """The form two names share when they differ only by case or Unicode normalisation."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKD", name).casefold())


def checked_path(raw: str, *, loc: str = "path") -> str:
    """``raw`` normalised by the sandbox, also refusing non-NFC and reserved names (422)."""
    rel = normalize_path(raw, loc=loc)
    if unicodedata.normalize("NFC", rel) != rel:
        raise UnsafePath("path must be in Unicode NFC form", loc=loc)
    if any(part.startswith(TEMP_PREFIX) for part in rel.split("/")):
        raise UnsafePath(f"names starting with '{TEMP_PREFIX}' are reserved", loc=loc)
    return rel


def _check_no_case_twin(workspace: Workspace, rel: str) -> None:
    """409 if a component of ``rel`` that does not exist yet folds to an existing sibling's name."""
    parent = workspace.real_root
    for part in rel.split("/"):
        entry = parent / part
        if not os.path.lexists(entry):
            try:
                siblings = os.listdir(parent)
            except (FileNotFoundError, NotADirectoryError):
                return  # the rest of the path is new; nothing further to clash with
            key = fold(part)
            twin = next((name for name in siblings if name != part and fold(name) == key), None)
            if twin is not None:
                existing = workspace.relative(parent / twin)
                raise Conflict(
                    f"'{rel}' differs from the existing '{existing}' only by case or Unicode form",
                    code="path_conflict",
                    details={"existing_path": existing},
                )
        parent = entry


def _digest(workspace: Workspace, rel: str, st: os.stat_result) -> str:
    key = (str(workspace.real_root / rel), st.st_size, st.st_mtime_ns, st.st_ino)
    with _digests_lock:
        cached = _digests.get(key)
        if cached is not None:
            _digests.move_to_end(key)
            return cached
    value = workspace.sha256(rel)
    with _digests_lock:
        _digests[key] = value
        while len(_digests) > _DIGEST_CACHE_SIZE:
            _digests.popitem(last=False)
    return value


def _info(workspace: Workspace, rel: str, st: os.stat_result) -> WorkspaceFile:
    return WorkspaceFile(
        rel, st.st_size, _digest(workspace, rel, st), datetime.fromtimestamp(st.st_mtime, UTC)
    )


def put_file(user_id: str, raw_path: str, data: bytes) -> tuple[WorkspaceFile, bool]:
    """Store ``data`` atomically at ``raw_path``; ``(file, created)``.

    422 bad path, 409 case twin, 413 file too large or quota exceeded. A failure at any
    point leaves the previous content (or no file) — never a partial one.
    """
    workspace = Workspace.for_user(user_id)
    rel = checked_path(raw_path)
    _, absolute = workspace.resolve(rel)
    created = not os.path.lexists(absolute)
    if created:
        _check_no_case_twin(workspace, rel)
    written = workspace.write_bytes(rel, data)
    st = (workspace.real_root / rel).lstat()
    digest = written.sha256 or hashlib.sha256(data).hexdigest()
    with _digests_lock:
        _digests[(str(workspace.real_root / rel), st.st_size, st.st_mtime_ns, st.st_ino)] = digest
    return WorkspaceFile(rel, st.st_size, digest, datetime.fromtimestamp(st.st_mtime, UTC)), created


def read_file(user_id: str, raw_path: str) -> tuple[bytes, WorkspaceFile]:
    """The file's bytes and metadata (404 missing, 422 bad path, 400 not a regular file)."""
    workspace = Workspace.for_user(user_id)
    rel = normalize_path(raw_path)
    data, _ = workspace.read_bytes(rel)
    st = (workspace.real_root / rel).stat()
    return data, WorkspaceFile(
        rel, len(data), hashlib.sha256(data).hexdigest(), datetime.fromtimestamp(st.st_mtime, UTC)
    )


def delete_file(user_id: str, raw_path: str) -> None:
    """Delete a file (404 if missing); folders left empty are removed too."""
    workspace = Workspace.for_user(user_id)
    rel = normalize_path(raw_path)
    workspace.delete(rel)
    parent = (workspace.real_root / rel).parent
    while parent != workspace.real_root and parent.is_relative_to(workspace.real_root):
        try:
            parent.rmdir()
        except OSError:
            break  # not empty (or already gone): stop pruning
        parent = parent.parent


def _listing_root(workspace: Workspace, prefix: str) -> str:
    """The folder to walk for ``prefix`` (everything up to its last ``/``), checked by the sandbox."""
    if "\x00" in prefix:
        raise UnsafePath("prefix contains a NUL byte", loc="prefix")
    folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    rel, _ = workspace.resolve(folder, allow_root=True, loc="prefix")
    return rel


def list_files(
    user_id: str, *, prefix: str = "", limit: int = 20, cursor: str | None = None
) -> tuple[list[WorkspaceFile], str | None]:
    """Files whose path starts with ``prefix``, sorted by path, ``limit`` per page."""
    workspace = Workspace.for_user(user_id)
    after: str | None = None
    state = decode_cursor(cursor)
    if state is not None:
        if state.get("q") != prefix or not isinstance(state.get("p"), str):
            raise BadRequest("invalid cursor (it belongs to another listing)", code="invalid_cursor")
        after = str(state["p"])
    folder = _listing_root(workspace, prefix)
    start = workspace.real_root / folder if folder else workspace.real_root
    if not start.is_dir() or start.is_symlink():
        return [], None
    entries: list[tuple[str, os.stat_result]] = []
    for rel, st in workspace.iter_files(folder):
        if not rel.startswith(prefix) or (after is not None and rel <= after):
            continue
        if any(part.startswith(TEMP_PREFIX) for part in rel.split("/")):
            continue
        entries.append((rel, st))
    entries.sort(key=lambda item: item[0])
    page = [_info(workspace, rel, st) for rel, st in entries[:limit]]
    next_cursor = encode_cursor({"p": page[-1].path, "q": prefix}) if len(entries) > limit else None
    return page, next_cursor
