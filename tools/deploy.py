"""Roll out one packaged function (``python -m tools.deploy function <name> ...``).

Terraform (infra/) creates every function with its configuration; this is the code-only
path Cloud Build takes for each function in parallel: upload the zip tools/package.py
built under its content address, redeploy the function from it, and re-attach the
workspace volume a Cloud Functions deployment drops (``attach-workspace``, which Terraform
runs too). ``--dry-run`` prints the commands instead of running them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from tools.functions import FUNCTIONS, ROOT, spec

RUNTIME = "python311"
# Functions whose file tools or /workspace API use the user workspace (infra/main.tf: workspace = true).
WORKSPACE_FUNCTIONS = ("agents", "runs", "worker")
WORKSPACE_VOLUME = "workspace"
WORKSPACE_MOUNT_PATH = "/mnt/workspace"  # infra/main.tf: local.workspace_mount_path


def source_bucket(project: str) -> str:
    return f"{project}-function-sources"  # infra/storage.tf: google_storage_bucket.sources


def builder_account(project: str) -> str:
    return f"projects/{project}/serviceAccounts/fn-builder@{project}.iam.gserviceaccount.com"  # infra/iam.tf


def image_repository(project: str, region: str) -> str:
    return f"projects/{project}/locations/{region}/repositories/function-images"  # infra/iam.tf


def workspace_bucket(project: str) -> str:
    return f"{project}-workspaces"  # infra/storage.tf: google_storage_bucket.workspace


def _run(command: list[str], dry_run: bool, capture: bool = False) -> str:
    print("+ " + shlex.join(command), flush=True)
    if dry_run:
        return ""
    result = subprocess.run(command, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    return result.stdout or ""


def _template_spec(service: dict[str, Any]) -> dict[str, Any]:
    """The revision template of a Cloud Run service as ``gcloud run services describe`` shows it."""
    return service.get("spec", {}).get("template", {}).get("spec", {})


def _volume_attached(service: dict[str, Any], bucket: str, mount_path: str) -> bool:
    """Whether the service already mounts ``bucket`` at ``mount_path``."""
    template_spec = _template_spec(service)
    volumes = {v.get("name"): v for v in template_spec.get("volumes", [])}
    volume = volumes.get(WORKSPACE_VOLUME, {})
    if volume.get("csi", {}).get("volumeAttributes", {}).get("bucketName") != bucket:
        return False
    containers = template_spec.get("containers", [])
    mounts = containers[0].get("volumeMounts", []) if containers else []
    return any(m.get("name") == WORKSPACE_VOLUME and m.get("mountPath") == mount_path for m in mounts)


def attach_workspace(
    name: str, *, project: str, region: str, bucket: str, mount_path: str, dry_run: bool = False
) -> None:
    """Mount the workspace bucket (Cloud Storage FUSE) into the function's Cloud Run service."""
    base = ["gcloud", "run", "services"]
    scope = [f"--project={project}", f"--region={region}"]
    described = _run([*base, "describe", name, *scope, "--format=json"], dry_run, capture=True)
    current = json.loads(described) if described else {}
    if _volume_attached(current, bucket, mount_path):
        print(f"{name}: gs://{bucket} already mounted at {mount_path}")
        return
    replace: list[str] = []
    if WORKSPACE_VOLUME in {v.get("name") for v in _template_spec(current).get("volumes", [])}:
        replace = [f"--remove-volume={WORKSPACE_VOLUME}", f"--remove-volume-mount={mount_path}"]
    _run(
        [
            *base,
            "update",
            name,
            *scope,
            # Cloud Storage volumes need the second generation execution environment.
            "--execution-environment=gen2",
            "--cpu-boost",
            *replace,
            f"--add-volume=name={WORKSPACE_VOLUME},type=cloud-storage,bucket={bucket}",
            f"--add-volume-mount=volume={WORKSPACE_VOLUME},mount-path={mount_path}",
            "--quiet",
        ],
        dry_run,
    )


def cpu_boost(name: str, *, project: str, region: str, dry_run: bool = False) -> None:
    """Startup CPU boost: extra CPU while an instance starts, so the first request waits less
    (bench/RESULTS.md, "First request after a cold start"). A Cloud Functions deployment
    replaces the revision template, so this runs after every deploy (attach-workspace sets it
    too, in the same revision, for the functions with a workspace)."""
    scope = [f"--project={project}", f"--region={region}"]
    _run(["gcloud", "run", "services", "update", name, *scope, "--cpu-boost", "--quiet"], dry_run)


def deploy_function(name: str, *, project: str, region: str, build_dir: Path, dry_run: bool = False) -> None:
    """Upload the packaged zip and redeploy the (Terraform-created) function from it."""
    function = spec(name)
    manifest = json.loads((build_dir / "functions" / "manifest.json").read_text())
    entry = manifest[name]
    zip_path = build_dir / "functions" / entry["zip"]
    object_url = f"gs://{source_bucket(project)}/{entry['source_object']}"
    _run(
        ["gcloud", "storage", "cp", "--no-clobber", str(zip_path), object_url, f"--project={project}"],
        dry_run,
    )
    _run(
        [
            "gcloud",
            "functions",
            "deploy",
            name,
            "--gen2",
            f"--project={project}",
            f"--region={region}",
            f"--runtime={RUNTIME}",
            f"--entry-point={function.entry_point}",
            # Every function is HTTP-triggered: the worker receives Pub/Sub pushes over HTTP.
            "--trigger-http",
            f"--source={object_url}",
            # The narrow build account and the one repository it may push to (infra/iam.tf),
            # as Terraform sets them, so a redeploy never falls back to a default account.
            f"--build-service-account={builder_account(project)}",
            f"--docker-repository={image_repository(project, region)}",
            "--quiet",
        ],
        dry_run,
    )
    if name in WORKSPACE_FUNCTIONS:
        attach_workspace(
            name,
            project=project,
            region=region,
            bucket=workspace_bucket(project),
            mount_path=WORKSPACE_MOUNT_PATH,
            dry_run=dry_run,
        )
    else:
        cpu_boost(name, project=project, region=region, dry_run=dry_run)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    names = [f.name for f in FUNCTIONS]

    deploy = commands.add_parser("function", help="upload a packaged function and redeploy it")
    deploy.add_argument("name", choices=names)
    deploy.add_argument("--build-dir", type=Path, default=ROOT / "build")

    attach = commands.add_parser("attach-workspace", help="mount the workspace bucket into a function")
    attach.add_argument("name", choices=WORKSPACE_FUNCTIONS)
    attach.add_argument("--bucket", help="default: <project>-workspaces")
    attach.add_argument("--mount-path", default=WORKSPACE_MOUNT_PATH)

    boost = commands.add_parser("cpu-boost", help="turn on startup CPU boost for a function")
    boost.add_argument("name", choices=names)

    for command in (deploy, attach, boost):
        command.add_argument("--project", required=True)
        command.add_argument("--region", required=True)
        command.add_argument("--dry-run", action="store_true", help="print the commands only")

    args = parser.parse_args(argv)
    try:
        if args.command == "function":
            deploy_function(
                args.name,
                project=args.project,
                region=args.region,
                build_dir=args.build_dir.resolve(),
                dry_run=args.dry_run,
            )
        elif args.command == "cpu-boost":
            cpu_boost(args.name, project=args.project, region=args.region, dry_run=args.dry_run)
        else:
            attach_workspace(
                args.name,
                project=args.project,
                region=args.region,
                bucket=args.bucket or workspace_bucket(args.project),
                mount_path=args.mount_path,
                dry_run=args.dry_run,
            )
    except subprocess.CalledProcessError as exc:
        sys.exit(f"command failed with status {exc.returncode}: {shlex.join(exc.cmd)}")


if __name__ == "__main__":
    main()
