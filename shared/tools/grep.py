"""``grep``: search the caller's workspace files for a regular expression (capped)."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from pydantic import Field

from shared.errors import BadRequest
from shared.tools._files import make_tool, workspace_of
from shared.tools.registry import ToolBuild, ToolConfig, ToolContext, ToolSpec
from shared.workspace.sandbox import Workspace, looks_binary

MAX_PATTERN_CHARS = 500
# Long lines are matched only up to this many characters (bounds regex work per line).
MAX_LINE_CHARS = 2000
MAX_LINE_SHOWN = 300


class GrepConfig(ToolConfig):
    max_matches: int = Field(default=100, ge=1, le=1000, description="Most matching lines returned.")
    max_files: int = Field(default=2000, ge=1, le=20000, description="Most files scanned per call.")
    max_file_bytes: int = Field(
        default=1024 * 1024, ge=1, le=10 * 1024 * 1024, description="Larger files are skipped."
    )


def grep_files(
    workspace: Workspace,
    config: GrepConfig,
    pattern: str,
    path: str = ".",
    glob: str | None = None,
    ignore_case: bool = False,
    fixed_string: bool = False,
) -> dict[str, Any]:
    """Lines matching ``pattern`` under ``path``; binary, oversized and symlinked files skipped."""
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise BadRequest(f"pattern must be 1-{MAX_PATTERN_CHARS} characters")
    flags = re.IGNORECASE if ignore_case else 0
    try:
        regex = re.compile(re.escape(pattern) if fixed_string else pattern, flags)
    except re.error as exc:
        raise BadRequest(f"invalid regular expression: {exc.msg}") from None
    matches: list[dict[str, Any]] = []
    scanned = skipped = 0
    truncated = False
    for rel, st in workspace.iter_files(path):
        if glob and not (fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], glob) or fnmatch.fnmatchcase(rel, glob)):
            continue
        if scanned >= config.max_files:
            truncated = True
            break
        scanned += 1
        if st.st_size > config.max_file_bytes:
            skipped += 1
            continue
        data, _ = workspace.read_bytes(rel, max_bytes=config.max_file_bytes)
        if looks_binary(data):
            skipped += 1
            continue
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if regex.search(line[:MAX_LINE_CHARS]):
                matches.append({"path": rel, "line": number, "text": line[:MAX_LINE_SHOWN]})
                if len(matches) >= config.max_matches:
                    truncated = True
                    break
        if truncated:
            break
    return {"matches": matches, "files_scanned": scanned, "files_skipped": skipped, "truncated": truncated}


class GrepTool(ToolSpec):
    name = "grep"
    description = "Search text files in the user's workspace for a regular expression."
    category = "files"
    config_model = GrepConfig

    def build(self, config: GrepConfig, ctx: ToolContext) -> ToolBuild:
        workspace = workspace_of(ctx)

        def grep(
            pattern: str,
            path: str = ".",
            glob: str | None = None,
            ignore_case: bool = False,
            fixed_string: bool = False,
        ) -> dict[str, Any]:
            """Find lines matching a pattern in workspace files.

            Args:
                pattern: Python regular expression (or plain text with `fixed_string`).
                path: Folder or file to search, relative to the workspace root.
                glob: Only files whose name (or relative path) matches this glob, e.g. `*.py`.
                ignore_case: Case-insensitive matching.
                fixed_string: Treat `pattern` as plain text.
            """
            return grep_files(workspace, config, pattern, path, glob, ignore_case, fixed_string)

        tool = make_tool(
            grep,
            name=self.name,
            description=self.description,
            requires_approval=self.requires_approval(config),
        )
        return ToolBuild(tools=[tool])


TOOL = GrepTool()
