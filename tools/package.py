"""Build one deployable folder (and zip) per Cloud Function: ``make package``.

``build/functions/<name>/`` holds the function's ``main.py``, a copy of the ``shared/``
package (copied, never symlinked: gcloud drops symlinked directories from uploads) and a
``requirements.txt`` with only that function's dependencies, pinned from ``uv.lock``.
``build/functions/<name>.zip`` is the same folder as the archive Terraform uploads, and
``build/openapi.json`` the document the load balancer serves at ``/openapi.json``.

Output is byte-identical on every run: files are written in sorted order, the zips carry
a fixed timestamp and mode, and nothing records when or where the build ran.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from tools.functions import FUNCTIONS, ROOT, FunctionSpec

PROJECT_NAME = "agents-service"
DEFAULT_OUT = ROOT / "build"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}
_REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class PackagedFunction:
    name: str
    folder: Path
    zip_path: Path
    zip_md5: str

    @property
    def source_object(self) -> str:
        """The content-addressed object name in the source bucket (Terraform uses the same)."""
        return f"functions/{self.name}-{self.zip_md5}.zip"


def normalize(name: str) -> str:
    """PEP 503 name normalisation, as uv.lock spells package names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def uv_binary() -> str:
    candidates = [os.environ.get("UV"), shutil.which("uv"), str(Path.home() / ".local" / "bin" / "uv")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("uv is required to export requirements from uv.lock (pip install uv)")


@functools.cache
def _lock_packages() -> dict[str, list[dict[str, object]]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages: dict[str, list[dict[str, object]]] = {}
    for package in lock["package"]:
        packages.setdefault(normalize(package["name"]), []).append(package)
    return packages


@functools.cache
def _exported_lines() -> tuple[str, ...]:
    """Every runtime requirement of the project, pinned, with environment markers."""
    result = subprocess.run(
        [uv_binary(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    lines = [line.strip() for line in result.stdout.splitlines()]
    return tuple(line for line in lines if line and not line.startswith("#") and not line.startswith("-"))


def _name_of(requirement_line: str) -> str:
    match = _REQUIREMENT_NAME.match(requirement_line)
    return match.group(1) if match else requirement_line


def _dependency_edges(entry: dict[str, object], extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    edges: list[dict[str, object]] = list(entry.get("dependencies", []))  # type: ignore[arg-type]
    optional: dict[str, list[dict[str, object]]] = entry.get("optional-dependencies", {})  # type: ignore[assignment]
    for extra in sorted(extras):
        edges.extend(optional.get(extra, []))
    return [
        (normalize(str(edge["name"])), frozenset(edge.get("extra", [])))  # type: ignore[arg-type]
        for edge in edges
    ]


def dependency_closure(direct: tuple[str, ...]) -> set[str]:
    """The lock's packages that ``direct`` (project dependencies, by name) pull in.

    Extras come from the project's own declaration (``pydantic-ai-slim[google,anthropic]``);
    markers are left to the exported lines, so a platform-only package is listed with its
    marker rather than dropped.
    """
    packages = _lock_packages()
    project = packages[PROJECT_NAME][0]
    declared = dict(_dependency_edges(project, frozenset()))
    unknown = sorted(normalize(name) for name in direct if normalize(name) not in declared)
    if unknown:
        raise SystemExit(f"not dependencies of {PROJECT_NAME} in pyproject.toml: {', '.join(unknown)}")
    queue = deque((normalize(name), declared[normalize(name)]) for name in direct)
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.popleft()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for entry in packages.get(name, []):
            queue.extend(_dependency_edges(entry, extras))
    return {name for name, _ in seen}


def requirements_text(function: FunctionSpec) -> str:
    """``requirements.txt`` for one function: its dependency closure, pinned from uv.lock."""
    if not function.requirements:
        raise SystemExit(f"function {function.name!r} declares no requirements in tools/functions.py")
    wanted = dependency_closure(function.requirements)
    selected: list[str] = []
    found: set[str] = set()
    for line in _exported_lines():
        name = normalize(_name_of(line))
        if name in wanted:
            selected.append(line)
            found.add(name)
    missing = sorted(wanted - found)
    if missing:
        raise SystemExit(f"uv export lacks {', '.join(missing)}: is uv.lock up to date? (uv lock)")
    header = (
        f"# The `{function.name}` function's dependencies, pinned from uv.lock by tools/package.py.\n"
        "# Generated: edit tools/functions.py (requirements) or pyproject.toml, then `make package`.\n"
    )
    selected.sort(key=lambda line: (normalize(_name_of(line)), line))
    return header + "\n".join(selected) + "\n"


def _source_files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (following symlinks), sorted, without caches."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith("."))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.suffix not in _SKIPPED_SUFFIXES and not filename.startswith("."):
                files.append(path)
    return files


def _package_contents(function: FunctionSpec) -> dict[str, bytes]:
    """Archive path → bytes for everything one function deploys."""
    contents: dict[str, bytes] = {}
    function_dir = function.source.parent
    for path in _source_files(function_dir):
        contents[path.relative_to(function_dir).as_posix()] = path.read_bytes()
    for path in _source_files(ROOT / "shared"):
        contents[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    contents["requirements.txt"] = requirements_text(function).encode()
    return dict(sorted(contents.items()))


def _write_folder(folder: Path, contents: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for relative, data in contents.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o644)


def _write_zip(zip_path: Path, contents: dict[str, bytes]) -> None:
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative, data in contents.items():
            info = zipfile.ZipInfo(relative, date_time=ZIP_TIMESTAMP)
            info.external_attr = 0o100644 << 16  # regular file, rw-r--r--
            info.create_system = 3  # unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    tmp.replace(zip_path)


def package_function(function: FunctionSpec, out_dir: Path = DEFAULT_OUT) -> PackagedFunction:
    functions_dir = out_dir / "functions"
    functions_dir.mkdir(parents=True, exist_ok=True)
    contents = _package_contents(function)
    folder = functions_dir / function.name
    _write_folder(folder, contents)
    zip_path = functions_dir / f"{function.name}.zip"
    _write_zip(zip_path, contents)
    md5 = hashlib.md5(zip_path.read_bytes(), usedforsecurity=False).hexdigest()
    return PackagedFunction(function.name, folder, zip_path, md5)


def write_openapi(out_dir: Path = DEFAULT_OUT) -> Path:
    """The OpenAPI document the load balancer serves from the static bucket."""
    from tools.functions import openapi_document

    path = out_dir / "openapi.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")
    return path


def build(out_dir: Path = DEFAULT_OUT, names: tuple[str, ...] = ()) -> list[PackagedFunction]:
    """Package the named functions (all by default) and the OpenAPI document."""
    selected = [f for f in FUNCTIONS if not names or f.name in names]
    unknown = sorted(set(names) - {f.name for f in FUNCTIONS})
    if unknown:
        raise SystemExit(f"unknown function(s): {', '.join(unknown)}")
    packaged = [package_function(f, out_dir) for f in selected]
    write_openapi(out_dir)
    manifest_path = out_dir / "functions" / "manifest.json"
    manifest: dict[str, object] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for p in packaged:
        manifest[p.name] = {"zip": p.zip_path.name, "md5": p.zip_md5, "source_object": p.source_object}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return packaged


def main() -> None:
    parser = argparse.ArgumentParser(description="Build build/functions/<name>/ and <name>.zip per function")
    parser.add_argument("names", nargs="*", help="functions to package (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build)")
    args = parser.parse_args()
    for packaged in build(args.out.resolve(), tuple(args.names)):
        requirements = (packaged.folder / "requirements.txt").read_text().splitlines()
        pins = sum(1 for line in requirements if line and not line.startswith("#"))
        print(f"{packaged.name:<12} {packaged.zip_path}  md5 {packaged.zip_md5}  {pins} pinned packages")


if __name__ == "__main__":
    main()
