"""Sandbox escapes through the HTTP /workspace API and the tool registry (issue 10).

tests/test_workspace_sandbox.py covers the file tools themselves (traversal, symlinks, hard
links, sizes, binaries as the model calls them); this module attacks the same sandbox from
the public API — encoded traversal, absolute paths, planted symlinks and hard links that
point out of the workspace or into another user's, oversized and binary uploads — and
pins down that no tool fetches URLs on our servers (so SSRF to loopback, private ranges,
link-local or the metadata server is impossible by construction; a new URL-fetching tool
fails here until it has its own refusal tests).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ApiClient, TestUser

TRAVERSALS = [
    "../escape.txt",
    "a/../../escape.txt",
    "%2e%2e/escape.txt",
    "%2e%2e%2fescape.txt",
    "..%2fescape.txt",
    "a/%2e%2e/%2e%2e/escape.txt",
    "..%5cescape.txt",
    "a\\..\\..\\escape.txt",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "~/escape.txt",
    "a%00.txt",
    "a%0a.txt",
    "....//....//escape.txt",
]


def _outside_files(workspace_root: Path) -> set[Path]:
    """Files anywhere near the workspace root but outside every user's folder."""
    parent = workspace_root.parent
    return {p for p in parent.rglob("*") if p.is_file() and not p.is_relative_to(workspace_root)}


@pytest.fixture
def own_workspace_root(tmp_path: Path, env: Callable[..., None]) -> Path:
    """Workspaces in a folder of their own, so "anywhere near" is small to search (the
    session's root sits among every other test's files)."""
    root = tmp_path / "near" / "workspaces"
    root.mkdir(parents=True)
    env(WORKSPACE_ROOT=str(root))
    return root


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_through_the_api_is_refused(
    agents_api: ApiClient, user: TestUser, own_workspace_root: Path, path: str
) -> None:
    workspace_root = own_workspace_root
    before = _outside_files(workspace_root)
    put = agents_api.put(f"/workspace/files/{path}", token=user.token, data=b"pwned")
    # Either refused outright, or (when the client normalised the URL itself) kept inside.
    assert put.status_code in (400, 404, 405, 422) or put.status_code == 201, put.get_data(as_text=True)
    if put.status_code == 201:
        stored = put.get_json()["path"]
        assert ".." not in stored.split("/") and not stored.startswith("/")
    elif "%0a" not in path:
        # (A newline in the URL never reaches our code: functions-framework's own URL rule
        # does not match it and answers an HTML 404 — see docs/security.md.)
        assert set(put.get_json()) == {"error"}
    assert _outside_files(workspace_root) == before
    got = agents_api.get(f"/workspace/files/{path}", token=user.token)
    assert got.status_code in (400, 404, 405, 422) or got.get_data() == b"pwned"
    assert b"root:" not in got.get_data()


def test_another_users_workspace_is_unreachable(
    agents_api: ApiClient, user: TestUser, other_user: TestUser
) -> None:
    assert (
        agents_api.put("/workspace/files/secret.txt", token=other_user.token, data=b"theirs").status_code
        == 201
    )
    for path in (f"../{other_user.id}/secret.txt", f"%2e%2e/{other_user.id}/secret.txt"):
        response = agents_api.get(f"/workspace/files/{path}", token=user.token)
        assert response.status_code in (400, 404, 422), path
        assert b"theirs" not in response.get_data()
    listing = agents_api.get("/workspace/files", token=user.token).get_json()
    assert listing["items"] == []


def _plant(user: TestUser, name: str, make: Callable[[Path], None]) -> Path:
    from shared.workspace.sandbox import workspace_dir

    link = workspace_dir(user.id) / name
    make(link)
    return link


def test_planted_symlinks_out_of_the_workspace_are_refused(
    agents_api: ApiClient, user: TestUser, other_user: TestUser, tmp_path: Path
) -> None:
    """A symlink in the workspace (e.g. from an old bucket object) never leads outside."""
    from shared.workspace.sandbox import workspace_dir

    outside = tmp_path / "outside.txt"
    outside.write_text("outside secret")
    neighbour = workspace_dir(other_user.id) / "private.txt"
    neighbour.write_text("neighbour secret")
    _plant(user, "to_outside.txt", lambda link: link.symlink_to(outside))
    _plant(user, "to_neighbour.txt", lambda link: link.symlink_to(neighbour))
    _plant(user, "dir_out", lambda link: link.symlink_to(tmp_path, target_is_directory=True))
    for path in ("to_outside.txt", "to_neighbour.txt", "dir_out/outside.txt"):
        read = agents_api.get(f"/workspace/files/{path}", token=user.token)
        assert read.status_code in (400, 404, 422), (path, read.status_code)
        assert b"secret" not in read.get_data()
        write = agents_api.put(f"/workspace/files/{path}", token=user.token, data=b"overwritten")
        assert write.status_code in (400, 404, 409, 422), (path, write.status_code)
        deleted = agents_api.delete(f"/workspace/files/{path}", token=user.token)
        assert deleted.status_code in (400, 404, 409, 422), (path, deleted.status_code)
    assert outside.read_text() == "outside secret"
    assert neighbour.read_text() == "neighbour secret"
    listed = agents_api.get("/workspace/files", token=user.token).get_json()
    assert all("secret" not in str(item) for item in listed["items"])


def test_writes_never_go_through_a_planted_hard_link(
    agents_api: ApiClient, user: TestUser, tmp_path: Path, workspace_root: Path
) -> None:
    outside = workspace_root.parent / f"hard-{user.id}.txt"
    outside.write_text("original")
    try:
        _plant(user, "linked.txt", lambda link: os.link(outside, link))
        response = agents_api.put("/workspace/files/linked.txt", token=user.token, data=b"changed")
        assert response.status_code in (201, 200, 400, 409, 422)
        assert outside.read_text() == "original"
    finally:
        outside.unlink()


def test_oversized_uploads_are_413_and_store_nothing(
    agents_api: ApiClient, user: TestUser, env: Callable[..., None]
) -> None:
    env(WORKSPACE_MAX_FILE_BYTES="4096")
    response = agents_api.put("/workspace/files/big.bin", token=user.token, data=b"x" * 5000)
    assert response.status_code == 413 and set(response.get_json()) == {"error"}
    assert agents_api.get("/workspace/files/big.bin", token=user.token).status_code == 404
    assert agents_api.get("/workspace/files", token=user.token).get_json()["items"] == []


def test_binary_files_round_trip_through_the_api_but_not_into_the_model(
    agents_api: ApiClient, user: TestUser
) -> None:
    from pydantic_ai import ToolFailed

    from shared.agents.definition import ToolRef
    from shared.tools.registry import ToolContext, build_tools
    from shared.workspace.sandbox import workspace_dir

    payload = bytes(range(256)) * 8
    assert agents_api.put("/workspace/files/blob.bin", token=user.token, data=payload).status_code == 201
    fetched = agents_api.get("/workspace/files/blob.bin", token=user.token)
    assert fetched.status_code == 200 and fetched.get_data() == payload
    ctx = ToolContext(user_id=user.id, workspace=workspace_dir(user.id), run_id="r", on_file_written=None)
    built = build_tools([ToolRef(name="file_read", config={})], ctx, "vertex-gemini")
    file_read = next(t.function for t in built.tools if t.name == "file_read")
    with pytest.raises(ToolFailed):
        file_read("blob.bin")


# -- URL fetching --------------------------------------------------------------------------

_NETWORK_MODULES = {"requests", "httpx", "urllib", "urllib3", "aiohttp", "socket", "http"}
# Tools that reach the network, and why that is safe. Adding one means adding SSRF tests.
NETWORK_TOOLS = {
    "web_search": "the model provider's native search: the provider fetches, never our servers",
}


def _imported_modules(module_name: str) -> set[str]:
    source = inspect.getsource(importlib.import_module(module_name))
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_tool_fetches_urls_on_our_servers(tmp_path: Path) -> None:
    from shared.agents.definition import ToolRef
    from shared.tools.registry import ToolContext, build_tools, list_tools

    for spec in list_tools():
        module = type(spec).__module__
        network = _imported_modules(module) & _NETWORK_MODULES
        assert not network, f"tool {spec.name} ({module}) imports {network}: add SSRF refusal tests"
        config_fields = set(spec.config_schema().get("properties", {}))
        assert not {"url", "urls", "base_url", "endpoint"} & config_fields, spec.name
    for name in NETWORK_TOOLS:
        ctx = ToolContext(user_id="u1", workspace=tmp_path, run_id="r", on_file_written=None)
        built = build_tools([ToolRef(name=name, config={})], ctx, "vertex-gemini")
        # Only a provider-side (native) tool: no function of ours is called with a URL.
        assert built.tools == [] and built.native_tools, name


def test_no_function_tool_takes_a_url_argument(tmp_path: Path) -> None:
    from shared.agents.definition import ToolRef
    from shared.tools.registry import ToolContext, build_tools, list_tools

    ctx = ToolContext(user_id="u1", workspace=tmp_path, run_id="r", on_file_written=None)
    for spec in list_tools():
        if not spec.available("vertex-gemini"):
            continue
        built = build_tools([ToolRef(name=spec.name, config={})], ctx, "vertex-gemini")
        for tool in built.tools:
            params = set(inspect.signature(tool.function).parameters)
            assert not params & {"url", "uri", "href", "link", "endpoint"}, (spec.name, params)
