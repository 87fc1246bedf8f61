"""Helpers shared by the workspace file tools."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from shared.errors import ServiceError
from shared.tools.registry import ToolContext
from shared.workspace.sandbox import Workspace

P = ParamSpec("P")
T = TypeVar("T")


def workspace_of(ctx: ToolContext) -> Workspace:
    return Workspace(ctx.workspace)


def report_failures(fn: Callable[P, T]) -> Callable[P, T]:
    """Show sandbox errors to the model as a failed tool result (no retry budget spent)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            from pydantic_ai import ToolFailed

            raise ToolFailed(exc.message) from None

    return wrapper


def make_tool(fn: Callable[..., Any], *, name: str, description: str, requires_approval: bool) -> Any:
    from pydantic_ai import Tool

    return Tool(
        report_failures(fn),
        takes_ctx=False,
        name=name,
        description=description,
        requires_approval=requires_approval,
    )
