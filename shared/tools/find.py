"""``find``: list files (and folders) in the caller's workspace by name pattern (capped)."""

from __future__ import annotations

import fnmatch
import stat
from typing import Any, Literal

from pydantic import Field

from shared.tools._files import make_tool, workspace_of
from shared.tools.registry import ToolBuild, ToolConfig, ToolContext, ToolSpec
from shared.workspace.sandbox import Workspace


class FindConfig(ToolConfig):
    max_results: int = Field(default=200, ge=1, le=5000, description="Most entries returned.")


def find_files(
    workspace: Workspace,
    config: FindConfig,
    pattern: str = "*",
    path: str = ".",
    kind: Literal["file", "dir", "any"] = "file",
) -> dict[str, Any]:
    """Entries under ``path`` whose name (or, if the pattern has a '/', relative path) matches."""
    results: list[dict[str, Any]] = []
    truncated = False
    by_path = "/" in pattern
    for rel, st in workspace.iter_files(path, include_dirs=kind != "file"):
        is_dir = stat.S_ISDIR(st.st_mode)
        if (kind == "file" and is_dir) or (kind == "dir" and not is_dir):
            continue
        subject = rel if by_path else rel.rsplit("/", 1)[-1]
        if not fnmatch.fnmatchcase(subject, pattern):
            continue
        if len(results) >= config.max_results:
            truncated = True
            break
        entry: dict[str, Any] = {"path": rel, "type": "dir" if is_dir else "file"}
        if not is_dir:
            entry["size"] = st.st_size
        results.append(entry)
    return {"entries": results, "truncated": truncated}


class FindTool(ToolSpec):
    name = "find"
    description = "List files or folders in the user's workspace whose names match a glob pattern."
    category = "files"
    config_model = FindConfig

    def build(self, config: FindConfig, ctx: ToolContext) -> ToolBuild:
        workspace = workspace_of(ctx)

        def find(
            pattern: str = "*", path: str = ".", kind: Literal["file", "dir", "any"] = "file"
        ) -> dict[str, Any]:
            """List workspace entries by glob pattern.

            Args:
                pattern: Glob on the name (e.g. `*.md`), or on the relative path if it contains `/`.
                path: Folder to search, relative to the workspace root.
                kind: `file`, `dir` or `any`.
            """
            return find_files(workspace, config, pattern, path, kind)

        tool = make_tool(
            find,
            name=self.name,
            description=self.description,
            requires_approval=self.requires_approval(config),
        )
        return ToolBuild(tools=[tool])


TOOL = FindTool()
