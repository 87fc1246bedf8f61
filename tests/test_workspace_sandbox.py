"""The workspace sandbox, exercised through the file tools' functions (issue 4)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.tools.registry import ToolContext, build_tools


def _refs(**configs: dict[str, Any]) -> list[Any]:
    from shared.agents.definition import ToolRef

    return [ToolRef(name=name, config=config) for name, config in configs.items()]


@pytest.fixture
def workspace(workspace_root: Path) -> Path:
    from shared.workspace.sandbox import workspace_dir

    return workspace_dir("u1")


@pytest.fixture
def written() -> list[str]:
    return []


@pytest.fixture
def tools(workspace: Path, written: list[str]) -> dict[str, Callable[..., Any]]:
    """The built pydantic-ai tools' functions, by name (as the model would call them)."""
    ctx = ToolContext(user_id="u1", workspace=workspace, run_id="r1", on_file_written=written.append)
    built = build_tools(
        _refs(
            file_read={"max_bytes": 64},
            file_write={"max_bytes": 128},
            grep={"max_matches": 3, "max_file_bytes": 256},
            find={"max_results": 5},
        ),
        ctx,
        "vertex-gemini",
    )
    return {tool.name: tool.function for tool in built.tools}


def fails(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Call a tool expecting the failure the model would see; returns its message."""
    from pydantic_ai import ToolFailed

    with pytest.raises(ToolFailed) as info:
        fn(*args, **kwargs)
    return info.value.message


def test_workspace_is_per_user_under_root(workspace_root: Path) -> None:
    from shared.workspace.sandbox import UnsafePath, workspace_dir

    assert workspace_dir("alice") == workspace_root / "alice"
    assert workspace_dir("alice").is_dir()
    for bad in ("../alice", "a/b", "", ".", "x" * 200):
        with pytest.raises(UnsafePath):
            workspace_dir(bad)


def test_write_then_read_find_grep(
    tools: dict[str, Callable[..., Any]], workspace: Path, written: list[str]
) -> None:
    result = tools["file_write"]("notes/todo.md", "alpha\nbeta\nAlpha again\n")
    assert result["path"] == "notes/todo.md" and result["size"] == 23 and len(result["sha256"]) == 64
    assert (workspace / "notes" / "todo.md").read_text() == "alpha\nbeta\nAlpha again\n"
    assert written == ["notes/todo.md"]
    assert tools["file_read"]("./notes//todo.md")["content"] == "alpha\nbeta\nAlpha again\n"
    tools["file_write"]("notes/todo.md", "gamma\n", append=True)
    assert tools["file_read"]("notes/todo.md")["content"].endswith("again\ngamma\n")
    found = tools["find"]("*.md")
    assert found == {"entries": [{"path": "notes/todo.md", "type": "file", "size": 29}], "truncated": False}
    assert tools["find"]("notes", kind="dir")["entries"] == [{"path": "notes", "type": "dir"}]
    hits = tools["grep"]("alpha", ignore_case=True)
    assert [(m["path"], m["line"]) for m in hits["matches"]] == [("notes/todo.md", 1), ("notes/todo.md", 3)]
    assert tools["grep"]("a.pha", fixed_string=True)["matches"] == []


@pytest.mark.parametrize(
    "path",
    [
        "../escape.txt",
        "a/../../escape.txt",
        "..",
        "notes/../../x",
        "/etc/passwd",
        "/tmp/x",
        "~/x",
        "a\\..\\b",
        "a\x00b",
        "",
    ],
)
def test_paths_cannot_leave_the_workspace(
    tools: dict[str, Callable[..., Any]], workspace: Path, path: str
) -> None:
    for name, args in (("file_read", (path,)), ("file_write", (path, "x"))):
        message = fails(tools[name], *args)
        assert "path" in message
    assert not (workspace.parent / "escape.txt").exists()
    assert not list(workspace.iterdir())


def test_grep_and_find_refuse_escaping_roots(tools: dict[str, Callable[..., Any]]) -> None:
    assert "'..'" in fails(tools["grep"], "root", path="../")
    assert "relative" in fails(tools["find"], "*", path="/etc")


def test_symlink_escape_is_refused(
    tools: dict[str, Callable[..., Any]], workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret root token")
    (workspace / "link.txt").symlink_to(outside)
    (workspace / "linkdir").symlink_to(tmp_path)
    assert "outside the workspace" in fails(tools["file_read"], "link.txt")
    assert "outside the workspace" in fails(tools["file_read"], "linkdir/secret.txt")
    assert "outside the workspace" in fails(tools["file_write"], "linkdir/new.txt", "x")
    assert "outside the workspace" in fails(tools["file_write"], "link.txt", "overwrite")
    assert outside.read_text() == "top secret root token" and not (tmp_path / "new.txt").exists()
    # Walking never follows links out of the workspace.
    assert tools["grep"]("secret")["matches"] == []
    assert tools["find"]("*", kind="any")["entries"] == []


def test_symlink_inside_is_readable_but_never_written_through(
    tools: dict[str, Callable[..., Any]], workspace: Path
) -> None:
    (workspace / "real.txt").write_text("inside")
    (workspace / "alias.txt").symlink_to(workspace / "real.txt")
    assert tools["file_read"]("alias.txt")["content"] == "inside"
    assert "symlink" in fails(tools["file_write"], "alias.txt", "changed")
    assert (workspace / "real.txt").read_text() == "inside"


def test_hard_links_are_not_written(
    tools: dict[str, Callable[..., Any]], workspace: Path, tmp_path: Path
) -> None:
    target = workspace / "original.txt"
    target.write_text("keep me")
    os.link(target, workspace / "hard.txt")
    assert "hard links" in fails(tools["file_write"], "hard.txt", "changed")
    assert target.read_text() == "keep me"


def test_oversized_files(tools: dict[str, Callable[..., Any]], workspace: Path) -> None:
    # Writes over the tool's cap are refused and leave nothing behind.
    assert "limit is 128" in fails(tools["file_write"], "big.txt", "x" * 129)
    assert not (workspace / "big.txt").exists()
    # Reads over the cap come in pages of max_bytes.
    (workspace / "long.txt").write_text("".join(f"{n:03d}\n" for n in range(50)))  # 200 bytes
    first = tools["file_read"]("long.txt")
    assert first["truncated"] is True and first["next_offset"] == 64 and len(first["content"]) == 64
    assert first["size"] == 200
    rest = tools["file_read"]("long.txt", offset=first["next_offset"])
    assert rest["content"].startswith("016\n")
    pages = [first["content"], rest["content"]]
    offset = rest.get("next_offset")
    while offset is not None:
        page = tools["file_read"]("long.txt", offset=offset)
        pages.append(page["content"])
        offset = page.get("next_offset")
    assert "".join(pages) == (workspace / "long.txt").read_text()
    # grep skips files over its per-file cap instead of reading them.
    (workspace / "huge.log").write_text("needle\n" * 100)
    result = tools["grep"]("needle")
    assert result["matches"] == [] and result["files_skipped"] == 1


def test_multibyte_characters_are_not_split_across_pages(
    tools: dict[str, Callable[..., Any]], workspace: Path
) -> None:
    text = "é" * 40  # 80 bytes
    (workspace / "utf8.txt").write_text(text)
    first = tools["file_read"]("utf8.txt")
    second = tools["file_read"]("utf8.txt", offset=first["next_offset"])
    assert first["content"] + second["content"] == text


def test_binary_files_refused_or_skipped(tools: dict[str, Callable[..., Any]], workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"needle\x00\x01\x02")
    (workspace / "text.txt").write_text("needle\n")
    assert "binary" in fails(tools["file_read"], "blob.bin")
    result = tools["grep"]("needle")
    assert [m["path"] for m in result["matches"]] == ["text.txt"] and result["files_skipped"] == 1


def test_result_caps(tools: dict[str, Callable[..., Any]], workspace: Path) -> None:
    for n in range(8):
        (workspace / f"f{n}.txt").write_text("hit\nhit\n")
    assert len(tools["find"]("*.txt")["entries"]) == 5 and tools["find"]("*.txt")["truncated"] is True
    grep = tools["grep"]("hit")
    assert len(grep["matches"]) == 3 and grep["truncated"] is True


def test_workspace_quota(
    tools: dict[str, Callable[..., Any]], workspace: Path, env: Callable[..., None]
) -> None:
    env(WORKSPACE_QUOTA_BYTES="150")
    tools["file_write"]("a.txt", "x" * 100)
    assert "quota" in fails(tools["file_write"], "b.txt", "x" * 60)
    tools["file_write"]("a.txt", "y" * 120)  # replacing counts the old size out
    assert (workspace / "a.txt").read_text() == "y" * 120


def test_write_config_limits(workspace: Path) -> None:
    from pydantic_ai import ToolFailed

    ctx = ToolContext(user_id="u1", workspace=workspace)
    built = build_tools(_refs(file_write={"overwrite": False, "path_prefix": "out"}), ctx, "vertex-anthropic")
    write: Callable[..., Any] = built.tools[0].function
    assert write("out/a.txt", "1")["path"] == "out/a.txt"
    with pytest.raises(ToolFailed, match="already exists"):
        write("out/a.txt", "2")
    with pytest.raises(ToolFailed, match="limited to 'out/'"):
        write("elsewhere.txt", "3")
    with pytest.raises(ToolFailed, match="limited to 'out/'"):
        write("outside/x.txt", "3")
    assert (workspace / "out" / "a.txt").read_text() == "1"


def test_missing_files_and_directories(tools: dict[str, Callable[..., Any]], workspace: Path) -> None:
    assert "not found" in fails(tools["file_read"], "nope.txt")
    (workspace / "dir").mkdir()
    assert "not a regular file" in fails(tools["file_read"], "dir")
    assert "not found" in fails(tools["grep"], "x", path="missing")
    (workspace / "file").write_text("x")
    assert "parent" in fails(tools["file_write"], "file/child.txt", "x")


def test_cloud_refuses_a_missing_workspace_mount(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In the cloud a missing FUSE mount is a 503, never a folder on the ephemeral disk."""
    from shared.errors import ServiceUnavailable
    from shared.workspace.sandbox import workspace_dir

    missing = tmp_path / "not-mounted"
    env(ENVIRONMENT="cloud", WORKSPACE_ROOT=str(missing), JWT_SECRET="x" * 40)
    with pytest.raises(ServiceUnavailable):
        workspace_dir("abc123")
    assert not missing.exists()
