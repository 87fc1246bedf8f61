"""``file_read``: read a text file from the caller's workspace (capped, paged by offset)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.tools._files import make_tool, workspace_of
from shared.tools.registry import ToolBuild, ToolConfig, ToolContext, ToolSpec
from shared.workspace.sandbox import BinaryFile, Workspace, looks_binary

HARD_MAX_BYTES = 1024 * 1024


class FileReadConfig(ToolConfig):
    max_bytes: int = Field(
        default=256 * 1024, ge=1, le=HARD_MAX_BYTES, description="Most bytes returned by one call."
    )


def read_file(workspace: Workspace, config: FileReadConfig, path: str, offset: int = 0) -> dict[str, Any]:
    """Read a UTF-8 text file; larger files come in pages of ``config.max_bytes``."""
    offset = max(0, offset)
    data, size = workspace.read_bytes(path, offset=offset, max_bytes=config.max_bytes)
    rel = workspace.resolve(path)[0]
    if looks_binary(data):
        raise BinaryFile(rel)
    end = offset + len(data)
    truncated = end < size
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A page may end inside a multi-byte character: stop before it, continue from there.
        if truncated and exc.start >= len(data) - 3:
            text = data[: exc.start].decode("utf-8")
            end = offset + exc.start
        else:
            raise BinaryFile(rel) from None
    result: dict[str, Any] = {"path": rel, "size": size, "offset": offset, "content": text}
    if truncated:
        result["truncated"] = True
        result["next_offset"] = end
    return result


class FileReadTool(ToolSpec):
    name = "file_read"
    description = "Read a text file from the user's workspace (relative path), in pages for large files."
    category = "files"
    config_model = FileReadConfig

    def build(self, config: FileReadConfig, ctx: ToolContext) -> ToolBuild:
        workspace = workspace_of(ctx)

        def file_read(path: str, offset: int = 0) -> dict[str, Any]:
            """Read a UTF-8 text file from the workspace.

            Args:
                path: File path relative to the workspace root, e.g. `src/app.py`.
                offset: Byte offset to start from; use `next_offset` from a truncated result.
            """
            return read_file(workspace, config, path, offset)

        tool = make_tool(
            file_read,
            name=self.name,
            description=self.description,
            requires_approval=self.requires_approval(config),
        )
        return ToolBuild(tools=[tool])


TOOL = FileReadTool()
