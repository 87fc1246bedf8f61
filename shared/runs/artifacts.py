"""Run artifacts: the files a run's tools wrote, snapshotted when the run ends.

The file tools report every successful write (``ToolContext.on_file_written``); the run's
``ArtifactRecorder`` remembers the paths, and when the run ends (whatever its status) copies
each file as it is then into the run's artifact store and records ``artifacts: [{path, size,
sha256}]`` on the run. ``GET /runs/{id}/artifacts/{path}`` serves the copy, so it stays what
the run produced even if the workspace file is changed or deleted later.

The store is ``<WORKSPACE_ROOT>/.artifacts/<owner_id>/<run_id>/`` — next to the users'
workspaces, never inside one (user ids cannot start with a dot), so the workspace API and
the file tools cannot see or change it, and it does not count against the workspace quota.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound
from shared.settings import get_settings
from shared.workspace.sandbox import UnsafePath, Workspace, normalize_path, workspace_dir

if TYPE_CHECKING:
    from shared.auth.principal import Principal

_log = logging.getLogger(__name__)

STORE_DIR = ".artifacts"
MAX_ARTIFACTS = 200


def store_dir(owner_id: str, run_id: str, *, create: bool = False) -> Path:
    """The run's artifact folder (ids are checked like workspace user ids)."""
    workspace_dir(owner_id)  # validates the owner id
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id) or len(run_id) > 128:
        raise UnsafePath("invalid run id", loc="run_id")
    root = get_settings().workspace_root.expanduser().absolute()
    path = root / STORE_DIR / owner_id / run_id
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


class ArtifactRecorder:
    """Collects the paths a run writes; ``snapshot()`` copies them into the run's store."""

    def __init__(self, owner_id: str, run_id: str, *, also: Callable[[str], None] | None = None) -> None:
        self.owner_id = owner_id
        self.run_id = run_id
        self._also = also
        self._paths: dict[str, None] = {}
        self._lock = threading.Lock()

    def file_written(self, path: str) -> None:
        with self._lock:
            self._paths[path] = None
        if self._also is not None:
            self._also(path)

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    def snapshot(self) -> list[dict[str, Any]]:
        """Copy every written file (as it is now) into the store; the run's ``artifacts``."""
        paths = self.paths
        if not paths:
            return []
        workspace = Workspace.for_user(self.owner_id)
        store = Workspace(store_dir(self.owner_id, self.run_id, create=True))
        recorded: list[dict[str, Any]] = []
        for path in sorted(paths)[:MAX_ARTIFACTS]:
            try:
                data, _ = workspace.read_bytes(path)
                copied = store.write_bytes(path, data)
            except (NotFound, UnsafePath):
                continue  # written, then removed or replaced by a link: nothing to keep
            except Exception:
                _log.warning("could not snapshot an artifact", extra={"run_id": self.run_id}, exc_info=True)
                continue
            recorded.append({"path": copied.path, "size": copied.size, "sha256": copied.sha256})
        if len(paths) > MAX_ARTIFACTS:
            _log.warning("run wrote more files than are kept as artifacts", extra={"run_id": self.run_id})
        return recorded


def read_artifact(
    owner_id: str, run_id: str, artifacts: list[dict[str, Any]], raw_path: str
) -> tuple[bytes, dict[str, Any]]:
    """The stored copy of one of the run's artifacts (404 if the run recorded no such file)."""
    path = normalize_path(raw_path)
    entry = next((a for a in artifacts if a.get("path") == path), None)
    folder = store_dir(owner_id, run_id)
    if entry is None or not folder.is_dir():
        raise NotFound(f"artifact '{path}' not found", details={"run_id": run_id, "path": path})
    data, _ = Workspace(folder).read_bytes(path)
    return data, entry


def download(principal: Principal, run_id: str, raw_path: str) -> tuple[bytes, dict[str, Any]]:
    """``GET /runs/{id}/artifacts/{path}``: the caller's run only (anyone else: 404)."""
    from shared.runs.repository import get_run_for

    record = get_run_for(principal, run_id)
    return read_artifact(record.owner_id, record.id, record.artifacts, raw_path)
