"""The workspace files API's schemas: ``WorkspaceFilePublic``, its page and the list query."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor


class WorkspaceFilePublic(BaseModel):
    """A file in the caller's workspace (also the shape of a run artifact, minus ``updated_at``)."""

    path: str
    size: int
    sha256: str
    updated_at: datetime


class WorkspaceFilePage(BaseModel):
    items: list[WorkspaceFilePublic]
    next_cursor: str | None = None


class WorkspaceFileListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No control characters: the server refuses them in paths (the schema says so too).
    prefix: str = Field(
        default="",
        max_length=1024,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="Only paths starting with this string.",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: Cursor | None = None
