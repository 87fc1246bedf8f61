"""The workspace sandbox: per-user directory resolution and safe path handling.

Every path a caller (an HTTP client or a model's tool call) names is *relative* to the
user's workspace, ``settings.workspace_root / <user_id>`` — a plain folder locally, a
Cloud Storage FUSE mount in the cloud. Nothing may leave it:

- the path must be relative, normalised component by component: ``..``, empty names, NUL
  and control characters, backslashes and over-long names are refused (not "fixed");
- the resolved real path must stay inside the workspace's real path, so a symlink that
  points outside is refused wherever it sits in the path;
- writes never follow a symlink at the final component (``O_NOFOLLOW``) and refuse a file
  with other hard links (writing it would change a file elsewhere); they go to a temporary
  file that replaces the target atomically, so a failed write leaves the old content;
- size caps: a per-file cap and a per-workspace quota on writes, read caps on reads.

Errors are ``shared.errors`` classes, so an HTTP endpoint can let them propagate (422 for a
bad path, 404 missing, 413 too large) and a tool can show their message to the model.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from shared.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)
from shared.settings import get_settings

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
BINARY_SNIFF_BYTES = 8192
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafePath(ValidationFailed):
    """A path that is malformed or would leave the workspace (422 naming ``path``)."""

    def __init__(self, message: str, *, loc: str = "path") -> None:
        super().__init__(
            f"{loc}: {message}",
            code="invalid_path",
            details={"fields": [{"loc": loc, "message": message, "type": "invalid_path"}]},
        )
        self.reason = message


class FileTooLarge(PayloadTooLarge):
    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message, code="file_too_large", details={"limit_bytes": limit})


class QuotaExceeded(PayloadTooLarge):
    def __init__(self, quota: int) -> None:
        super().__init__(
            f"the workspace quota of {quota} bytes would be exceeded",
            code="workspace_quota_exceeded",
            details={"quota_bytes": quota},
        )


class NotAFile(Conflict):
    """409: the path is well formed but names a folder now (a state of the workspace, which
    the request cannot know from the contract)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"'{path}' is not a regular file", code="not_a_file")


class BinaryFile(BadRequest):
    def __init__(self, path: str) -> None:
        super().__init__(f"'{path}' is a binary file", code="binary_file")


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    updated_at: datetime
    sha256: str | None = None


def normalize_path(raw: str, *, allow_root: bool = False, loc: str = "path") -> str:
    """``raw`` as a normalised workspace-relative POSIX path, or ``UnsafePath``.

    ``allow_root`` accepts ``""``/``"."`` (the workspace itself, for listings and searches).
    """
    if len(raw) > MAX_PATH_CHARS:
        raise UnsafePath(f"path is longer than {MAX_PATH_CHARS} characters", loc=loc)
    if "\x00" in raw:
        raise UnsafePath("path contains a NUL byte", loc=loc)
    if _CONTROL.search(raw):
        raise UnsafePath("path contains control characters", loc=loc)
    if "\\" in raw:
        raise UnsafePath("path must use '/' separators", loc=loc)
    if raw.startswith("/") or raw.startswith("~"):
        raise UnsafePath("path must be relative to the workspace", loc=loc)
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise UnsafePath("path must not contain '..'", loc=loc)
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafePath(f"a path component is longer than {MAX_NAME_BYTES} bytes", loc=loc)
    if not parts and not allow_root:
        raise UnsafePath("path is empty", loc=loc)
    return str(PurePosixPath(*parts)) if parts else ""


def workspace_dir(user_id: str) -> Path:
    """The user's workspace folder (created on first use)."""
    if not _USER_ID.match(user_id):
        raise UnsafePath("invalid user id", loc="user_id")
    settings = get_settings()
    root = settings.workspace_root.expanduser().absolute()
    if settings.environment == "cloud" and not root.is_dir():
        # In the cloud the root is a Cloud Storage FUSE mount; creating it would put
        # users' files on the instance's ephemeral disk, where they would be lost.
        raise ServiceUnavailable("the workspace volume is not mounted", retry_after=10)
    path = root / user_id
    path.mkdir(parents=True, exist_ok=True)
    return path


class Workspace:
    """Safe file operations confined to one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = root.resolve(strict=True)

    @classmethod
    def for_user(cls, user_id: str) -> Workspace:
        return cls(workspace_dir(user_id))

    # -- paths -----------------------------------------------------------------------------

    def resolve(self, raw: str, *, allow_root: bool = False, loc: str = "path") -> tuple[str, Path]:
        """``(normalised relative path, absolute path)``; refuses anything that escapes."""
        rel = normalize_path(raw, allow_root=allow_root, loc=loc)
        candidate = self.real_root / rel if rel else self.real_root
        real = candidate.resolve(strict=False)
        if not real.is_relative_to(self.real_root):
            raise UnsafePath("path resolves outside the workspace (symlink)", loc=loc)
        return rel, candidate

    def relative(self, absolute: Path) -> str:
        return absolute.relative_to(self.real_root).as_posix()

    def _contained(self, path: Path) -> bool:
        try:
            return path.resolve(strict=False).is_relative_to(self.real_root)
        except (OSError, RuntimeError):  # symlink loops
            return False

    # -- reads -----------------------------------------------------------------------------

    def stat(self, raw: str) -> FileInfo:
        rel, path = self.resolve(raw)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"file '{rel}' not found") from None
        if not stat.S_ISREG(st.st_mode):
            raise NotAFile(rel)
        return FileInfo(rel, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def read_bytes(self, raw: str, *, offset: int = 0, max_bytes: int | None = None) -> tuple[bytes, int]:
        """``(bytes from offset, total size)``; at most ``max_bytes`` are read."""
        rel, path = self.resolve(raw)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"file '{rel}' not found") from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            # A symlink at the last component: resolve() found its target inside, so read that.
            real = path.resolve(strict=False)
            if real == path or not real.is_relative_to(self.real_root):
                raise UnsafePath("path cannot be opened safely") from None
            return self.read_bytes(self.relative(real), offset=offset, max_bytes=max_bytes)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise NotAFile(rel)
        with os.fdopen(fd, "rb") as handle:
            if offset:
                handle.seek(offset)
            data = handle.read() if max_bytes is None else handle.read(max_bytes)
        return data, st.st_size

    def sha256(self, raw: str) -> str:
        digest = hashlib.sha256()
        rel, path = self.resolve(raw)
        try:
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"file '{rel}' not found") from None
        return digest.hexdigest()

    def iter_files(
        self, raw: str = "", *, include_dirs: bool = False
    ) -> Iterator[tuple[str, os.stat_result]]:
        """Files (and optionally directories) under ``raw``, sorted, never following symlinks."""
        rel, start = self.resolve(raw, allow_root=True)
        if not start.exists():
            raise NotFound(f"'{rel or '.'}' not found")
        if start.is_file() and not start.is_symlink():
            yield rel, start.stat()
            return
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            dirnames.sort()
            base = Path(dirpath)
            if include_dirs:
                for name in dirnames:
                    entry = base / name
                    if not entry.is_symlink():
                        yield self.relative(entry), entry.lstat()
            # Symlinked directories are listed by os.walk but never descended (followlinks=False).
            dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
            for name in sorted(filenames):
                entry = base / name
                try:
                    st = entry.lstat()
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield self.relative(entry), st

    def usage_bytes(self) -> int:
        return sum(st.st_size for _, st in self.iter_files(""))

    # -- writes ----------------------------------------------------------------------------

    def write_bytes(
        self, raw: str, data: bytes, *, max_bytes: int | None = None, overwrite: bool = True
    ) -> FileInfo:
        """Write ``data`` atomically; refuses symlinked or hard-linked targets and caps sizes."""
        settings = get_settings()
        cap = min(max_bytes or settings.workspace_max_file_bytes, settings.workspace_max_file_bytes)
        rel, path = self.resolve(raw)
        if len(data) > cap:
            raise FileTooLarge(f"file is {len(data)} bytes; the limit is {cap}", limit=cap)
        existing = self._existing_target(rel, path)
        if existing is not None and not overwrite:
            raise BadRequest(f"file '{rel}' already exists", code="file_exists")
        previous = existing.st_size if existing is not None else 0
        quota = settings.workspace_quota_bytes
        if self.usage_bytes() - previous + len(data) > quota:
            raise QuotaExceeded(quota)
        parent = path.parent
        self._make_dirs(rel, parent)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            # Re-check right before replacing: a symlink planted meanwhile must not be followed
            # (os.replace swaps the directory entry itself, never writes through a link).
            self._existing_target(rel, path)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        st = path.lstat()
        return FileInfo(
            rel, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC), hashlib.sha256(data).hexdigest()
        )

    def delete(self, raw: str) -> None:
        rel, path = self.resolve(raw)
        try:
            st = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"file '{rel}' not found") from None
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise NotAFile(rel)
        path.unlink()

    def _existing_target(self, rel: str, path: Path) -> os.stat_result | None:
        try:
            st = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath("refusing to write through a symlink")
        if not stat.S_ISREG(st.st_mode):
            raise NotAFile(rel)
        if st.st_nlink > 1:
            raise UnsafePath("refusing to write a file with other hard links")
        return st

    def _make_dirs(self, rel: str, parent: Path) -> None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UnsafePath("a parent of the path is a file") from None
        if not self._contained(parent):
            raise UnsafePath("path resolves outside the workspace (symlink)")


def looks_binary(sample: bytes) -> bool:
    """NUL bytes in the first block mark a file as binary (as git and grep do)."""
    return b"\x00" in sample[:BINARY_SNIFF_BYTES]
