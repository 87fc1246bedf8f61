"""/workspace/files over HTTP: upload, download, list, delete, confinement, quotas, atomicity (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiClient, TestUser


def put(api: ApiClient, user: TestUser, path: str, data: bytes, **kw: Any) -> Any:
    return api.put(f"/workspace/files/{path}", token=user.token, data=data, **kw)


def folder(workspace_root: Path, user: TestUser) -> Path:
    return workspace_root / user.id


def test_upload_download_overwrite_list_delete(agents_api: ApiClient, user: TestUser) -> None:
    created = put(agents_api, user, "docs/notes.md", b"# hello\n")
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["path"] == "docs/notes.md" and body["size"] == 8

    import hashlib

    assert body["sha256"] == hashlib.sha256(b"# hello\n").hexdigest()
    assert created.headers["Location"] == "/workspace/files/docs/notes.md"

    got = agents_api.get("/workspace/files/docs/notes.md", token=user.token)
    assert got.status_code == 200 and got.data == b"# hello\n"
    assert got.mimetype == "text/markdown"
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    replaced = put(agents_api, user, "./docs//notes.md", b"second")
    assert replaced.status_code == 200 and replaced.get_json()["size"] == 6
    assert agents_api.get("/workspace/files/docs/notes.md", token=user.token).data == b"second"

    binary = bytes(range(256))
    assert put(agents_api, user, "data/blob.bin", binary).status_code == 201
    fetched = agents_api.get("/workspace/files/data/blob.bin", token=user.token)
    assert fetched.data == binary and fetched.mimetype == "application/octet-stream"

    for name in ("a.txt", "b.txt", "c.txt"):
        assert put(agents_api, user, f"docs/{name}", name.encode()).status_code == 201
    first = agents_api.get("/workspace/files?prefix=docs/&limit=2", token=user.token).get_json()
    assert [f["path"] for f in first["items"]] == ["docs/a.txt", "docs/b.txt"]
    assert first["next_cursor"]
    second = agents_api.get(
        f"/workspace/files?prefix=docs/&limit=2&cursor={first['next_cursor']}", token=user.token
    ).get_json()
    assert [f["path"] for f in second["items"]] == ["docs/c.txt", "docs/notes.md"]
    assert second["next_cursor"] is None
    item = second["items"][1]
    assert (
        item["size"] == 6 and item["sha256"] == hashlib.sha256(b"second").hexdigest() and item["updated_at"]
    )
    everything = agents_api.get("/workspace/files", token=user.token).get_json()
    assert [f["path"] for f in everything["items"]] == [
        "data/blob.bin",
        "docs/a.txt",
        "docs/b.txt",
        "docs/c.txt",
        "docs/notes.md",
    ]
    partial = agents_api.get("/workspace/files?prefix=docs/n", token=user.token).get_json()
    assert [f["path"] for f in partial["items"]] == ["docs/notes.md"]
    # A cursor from one listing is refused on another.
    assert (
        agents_api.get(
            f"/workspace/files?prefix=data/&cursor={first['next_cursor']}", token=user.token
        ).status_code
        == 400
    )

    assert agents_api.delete("/workspace/files/docs/notes.md", token=user.token).status_code == 204
    assert agents_api.get("/workspace/files/docs/notes.md", token=user.token).status_code == 404
    assert agents_api.delete("/workspace/files/docs/notes.md", token=user.token).status_code == 404


def test_files_are_private(agents_api: ApiClient, user: TestUser, other_user: TestUser) -> None:
    assert put(agents_api, user, "secret.txt", b"mine").status_code == 201
    assert agents_api.get("/workspace/files/secret.txt", token=other_user.token).status_code == 404
    assert agents_api.get("/workspace/files", token=other_user.token).get_json()["items"] == []
    assert agents_api.delete("/workspace/files/secret.txt", token=other_user.token).status_code == 404
    assert agents_api.get("/workspace/files/secret.txt").status_code == 401
    assert agents_api.put("/workspace/files/x.txt", data=b"x").status_code == 401


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("..%2Fescape.txt", "dot-dot"),
        ("a/%2E%2E/%2E%2E/escape.txt", "encoded dot-dot"),
        ("%2Fetc%2Fpasswd", "absolute"),
        ("~/x.txt", "home"),
        ("bad%00name.txt", "NUL byte"),
        ("bad%01name.txt", "control character"),
        ("dir%5Cfile.txt", "backslash"),
        ("cafe%CC%81.txt", "not NFC (e + combining accent)"),
        (".tmp-abc", "reserved temp name"),
        ("a/" + "x" * 256, "component too long"),
    ],
)
def test_unsafe_paths_are_refused_and_write_nothing(
    agents_api: ApiClient, user: TestUser, workspace_root: Path, path: str, why: str
) -> None:
    response = put(agents_api, user, path, b"data")
    assert response.status_code == 422, why
    assert response.get_json()["error"]["code"] == "invalid_path"
    assert not list(workspace_root.glob("**/escape.txt"))
    assert agents_api.get("/workspace/files", token=user.token).get_json()["items"] == []
    assert agents_api.get(f"/workspace/files/{path}", token=user.token).status_code in (404, 422)


def test_symlinks_never_lead_out(
    agents_api: ApiClient, user: TestUser, workspace_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret")
    assert put(agents_api, user, "ok.txt", b"ok").status_code == 201
    home = folder(workspace_root, user)
    os.symlink(outside, home / "link")
    os.symlink(outside / "secret.txt", home / "file-link.txt")

    for path in ("link/secret.txt", "file-link.txt"):
        got = agents_api.get(f"/workspace/files/{path}", token=user.token)
        assert got.status_code == 422 and b"outside secret" not in got.data
        written = put(agents_api, user, path, b"overwrite")
        assert written.status_code == 422
    assert put(agents_api, user, "link/new.txt", b"x").status_code == 422
    assert (outside / "secret.txt").read_text() == "outside secret"
    assert not (outside / "new.txt").exists()
    listed = [f["path"] for f in agents_api.get("/workspace/files", token=user.token).get_json()["items"]]
    assert listed == ["ok.txt"]


def test_case_and_unicode_twins_are_refused(agents_api: ApiClient, user: TestUser) -> None:
    assert put(agents_api, user, "Reports/Summary.md", b"one").status_code == 201
    for twin in ("reports/Summary.md", "Reports/summary.md", "REPORTS/new.md", "Reports/SUMMARY.MD"):
        response = put(agents_api, user, twin, b"two")
        assert response.status_code == 409, twin
        assert response.get_json()["error"]["code"] == "path_conflict"
    # The same path (exact case) is an overwrite, and other names in the folder are fine.
    assert put(agents_api, user, "Reports/Summary.md", b"three").status_code == 200
    assert put(agents_api, user, "Reports/other.md", b"four").status_code == 201
    # NFC "é" vs a casefolded twin: "Café.md" then "CAFÉ.md" collide.
    assert put(agents_api, user, "Caf%C3%A9.md", b"x").status_code == 201
    assert put(agents_api, user, "CAF%C3%89.md", b"y").status_code == 409
    paths = [f["path"] for f in agents_api.get("/workspace/files", token=user.token).get_json()["items"]]
    assert paths == ["Café.md", "Reports/Summary.md", "Reports/other.md"]


def test_file_size_and_quota_limits(
    agents_api: ApiClient, user: TestUser, env: Any, workspace_root: Path
) -> None:
    env(WORKSPACE_MAX_FILE_BYTES="1000", WORKSPACE_QUOTA_BYTES="2500")
    assert put(agents_api, user, "a.bin", b"a" * 1000).status_code == 201
    too_big = put(agents_api, user, "b.bin", b"b" * 1001)
    assert too_big.status_code == 413
    assert too_big.get_json()["error"]["code"] == "file_too_large"
    assert put(agents_api, user, "b.bin", b"b" * 1000).status_code == 201
    over_quota = put(agents_api, user, "c.bin", b"c" * 600)
    assert over_quota.status_code == 413
    assert over_quota.get_json()["error"]["code"] == "workspace_quota_exceeded"
    # Replacing a file counts only the difference: shrinking one makes room.
    assert put(agents_api, user, "a.bin", b"a" * 100).status_code == 200
    assert put(agents_api, user, "c.bin", b"c" * 600).status_code == 201
    # Over-quota and over-size uploads left nothing behind.
    names = sorted(p.name for p in folder(workspace_root, user).iterdir())
    assert names == ["a.bin", "b.bin", "c.bin"]


def test_the_10_mib_default_applies_to_uploads_not_the_1_mib_json_limit(
    agents_api: ApiClient, user: TestUser
) -> None:
    three_mib = os.urandom(3 * 1024 * 1024)
    response = put(agents_api, user, "big.bin", three_mib)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert agents_api.get("/workspace/files/big.bin", token=user.token).data == three_mib
    over = put(agents_api, user, "huge.bin", b"\0" * (10 * 1024 * 1024 + 1))
    assert over.status_code == 413 and over.get_json()["error"]["details"]["limit_bytes"] == 10 * 1024 * 1024


def test_failed_overwrite_keeps_the_old_file(
    agents_api: ApiClient, user: TestUser, env: Any, workspace_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert put(agents_api, user, "keep.txt", b"original content").status_code == 201
    env(WORKSPACE_MAX_FILE_BYTES="100")
    # 1) an oversized body: refused before anything is written.
    assert put(agents_api, user, "keep.txt", b"x" * 101).status_code == 413
    assert agents_api.get("/workspace/files/keep.txt", token=user.token).data == b"original content"

    # 2) the disk fails mid-write (after the temp file has data, before the rename).
    import shared.workspace.sandbox as sandbox

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "simulated I/O error")

    monkeypatch.setattr(sandbox.os, "fsync", broken_fsync)
    failed = put(agents_api, user, "keep.txt", b"new content")
    assert failed.status_code == 500
    assert "simulated" not in failed.get_data(as_text=True)
    monkeypatch.undo()
    assert agents_api.get("/workspace/files/keep.txt", token=user.token).data == b"original content"
    # No temp file or partial file is left, and the listing shows only the real file.
    assert sorted(p.name for p in folder(workspace_root, user).iterdir()) == ["keep.txt"]
    assert [f["path"] for f in agents_api.get("/workspace/files", token=user.token).get_json()["items"]] == [
        "keep.txt"
    ]


def test_directories_and_bad_queries(agents_api: ApiClient, user: TestUser) -> None:
    assert put(agents_api, user, "dir/file.txt", b"x").status_code == 201
    folder = agents_api.get("/workspace/files/dir", token=user.token)  # names a folder now: 409
    assert folder.status_code == 409 and folder.get_json()["error"]["code"] == "not_a_file"
    assert put(agents_api, user, "dir", b"x").status_code in (409, 422)
    assert put(agents_api, user, "dir/file.txt/child", b"x").status_code == 422
    assert agents_api.get("/workspace/files?limit=0", token=user.token).status_code == 422
    assert agents_api.get("/workspace/files?cursor=zzz", token=user.token).status_code == 400
    assert agents_api.get("/workspace/files?prefix=../", token=user.token).status_code == 422
    assert agents_api.get("/workspace/files?prefix=nothing/here", token=user.token).get_json()["items"] == []
    # Deleting the last file of a folder removes the folder.
    assert agents_api.delete("/workspace/files/dir/file.txt", token=user.token).status_code == 204
    assert agents_api.get("/workspace/files", token=user.token).get_json()["items"] == []


def test_dot_files_are_files_like_any_other_and_the_schema_says_so(
    agents_api: ApiClient, user: TestUser
) -> None:
    """The path pattern in /openapi.json admits exactly what the server stores (a dot-file was
    stored while the schema forbade it: schemathesis, issue 21)."""
    import re

    from tools.functions import openapi_document

    document: Any = openapi_document()
    put = document["paths"]["/workspace/files/{path}"]["put"]
    [param] = [p for p in put["parameters"] if p["in"] == "path"]
    pattern = re.compile(param["schema"]["pattern"])
    for path in (".env", "docs/.gitignore", "..notes", "a/~draft.txt"):
        assert pattern.fullmatch(path), path
        stored = agents_api.put(f"/workspace/files/{path}", token=user.token, data=b"x")
        assert stored.status_code == 201, path
        assert agents_api.get(f"/workspace/files/{path}", token=user.token).get_data() == b"x"
    for path in (".", "..", "a/..", "~/x", "a\\b"):
        assert not pattern.fullmatch(path), path


def test_a_listing_prefix_with_control_characters_is_refused_as_the_schema_says(
    agents_api: ApiClient, user: TestUser
) -> None:
    """schemathesis (issue 21): the schema offered a NUL byte in ``prefix`` that the server refuses."""
    import re

    from tools.functions import openapi_document

    document: Any = openapi_document()
    [param] = [p for p in document["paths"]["/workspace/files"]["get"]["parameters"] if p["name"] == "prefix"]
    assert not re.fullmatch(param["schema"]["pattern"], "a\x00b")
    assert agents_api.get("/workspace/files?prefix=a%00b", token=user.token).status_code == 422
