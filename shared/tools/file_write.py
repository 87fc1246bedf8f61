"""``file_write``: create or replace a text file in the caller's workspace."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.tools._files import make_tool, workspace_of
from shared.tools.registry import ToolBuild, ToolConfig, ToolContext, ToolSpec
from shared.workspace.sandbox import Workspace

HARD_MAX_BYTES = 10 * 1024 * 1024


class FileWriteConfig(ToolConfig):
    max_bytes: int = Field(
        default=1024 * 1024, ge=1, le=HARD_MAX_BYTES, description="Largest file one call may write."
    )
    overwrite: bool = Field(default=True, description="Allow replacing existing files.")
    path_prefix: str | None = Field(
        default=None,
        max_length=512,
        description="Confine writes to this workspace folder (e.g. `out/`).",
    )


def write_file(
    workspace: Workspace, config: FileWriteConfig, path: str, content: str, append: bool = False
) -> dict[str, Any]:
    """Write ``content`` (UTF-8) to ``path`` atomically; returns ``{path, size, sha256}``."""
    from shared.workspace.sandbox import UnsafePath, normalize_path

    rel = workspace.resolve(path)[0]
    if config.path_prefix:
        prefix = normalize_path(config.path_prefix, loc="path_prefix")
        if rel != prefix and not rel.startswith(prefix + "/"):
            raise UnsafePath(f"writes are limited to '{prefix}/'")
    data = content.encode("utf-8")
    if append:
        try:
            existing, _ = workspace.read_bytes(rel, max_bytes=config.max_bytes + 1)
        except Exception as exc:
            from shared.errors import NotFound

            if not isinstance(exc, NotFound):
                raise
            existing = b""
        data = existing + data
    info = workspace.write_bytes(rel, data, max_bytes=config.max_bytes, overwrite=config.overwrite or append)
    return {"path": info.path, "size": info.size, "sha256": info.sha256}


class FileWriteTool(ToolSpec):
    name = "file_write"
    description = "Create or replace a UTF-8 text file in the user's workspace (relative path)."
    category = "files"
    config_model = FileWriteConfig

    def build(self, config: FileWriteConfig, ctx: ToolContext) -> ToolBuild:
        workspace = workspace_of(ctx)

        def file_write(path: str, content: str, append: bool = False) -> dict[str, Any]:
            """Write a UTF-8 text file in the workspace (parent folders are created).

            Args:
                path: File path relative to the workspace root, e.g. `out/report.md`.
                content: The full text to write (or to append when `append` is true).
                append: Append to the file instead of replacing it.
            """
            result = write_file(workspace, config, path, content, append)
            if ctx.on_file_written is not None:
                ctx.on_file_written(result["path"])
            return result

        tool = make_tool(
            file_write,
            name=self.name,
            description=self.description,
            requires_approval=self.requires_approval(config),
        )
        return ToolBuild(tools=[tool])


TOOL = FileWriteTool()
