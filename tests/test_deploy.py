"""Deployability, proved offline: packaging, the Terraform in infra/, cloudbuild.yaml.

- Each packaged function installs into a fresh virtual environment from its own
  requirements.txt and serves under functions-framework (against the emulators).
- Packaging is byte-identical from run to run.
- The Terraform parses, and what it names (functions, entry points, routes, topics,
  subscriptions, secrets, settings, indexes) exists in the code, and vice versa.
- cloudbuild.yaml parses and its steps reference scripts and targets that exist.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tools import deploy, localstack, package
from tools.functions import FUNCTIONS, HTTP_FUNCTIONS, ROOT, FunctionSpec, load_router

INFRA = ROOT / "infra"
INDEXES_FILE = INFRA / "firestore.indexes.json"
TTL_COLLECTIONS = {"login_throttle", "idempotency", "rate_limits"}


# --------------------------------------------------------------------------- packaging


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package")
    package.build(out)
    return out


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_packaging_twice_is_byte_identical(tmp_path: Path) -> None:
    # Back to back, each from scratch (uv export re-run): the tree is shared with editors.
    outputs = []
    for run in ("first", "second"):
        package._exported_lines.cache_clear()
        package._lock_packages.cache_clear()
        package.build(tmp_path / run)
        outputs.append(tmp_path / run)
    first, second = _tree(outputs[0]), _tree(outputs[1])
    assert sorted(first) == sorted(second)
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []
    for function in FUNCTIONS:
        assert (outputs[1] / "functions" / f"{function.name}.zip").is_file()


def test_each_package_holds_its_entry_module_shared_and_requirements(packaged: Path) -> None:
    import zipfile

    for function in FUNCTIONS:
        folder = packaged / "functions" / function.name
        assert (folder / "main.py").read_bytes() == function.source.read_bytes()
        assert (folder / "shared" / "__init__.py").is_file()
        assert (folder / "requirements.txt").is_file()
        assert not any(p.is_symlink() for p in folder.rglob("*")), "gcloud drops symlinked folders"
        assert not any(p.name == "__pycache__" for p in folder.rglob("*"))
        for source in (ROOT / "shared").rglob("*.py"):
            if "__pycache__" not in source.parts:
                copied = folder / source.relative_to(ROOT)
                assert copied.read_bytes() == source.read_bytes(), copied
        with zipfile.ZipFile(packaged / "functions" / f"{function.name}.zip") as archive:
            names = archive.namelist()
            assert names == sorted(names)
            assert {"main.py", "requirements.txt", "shared/__init__.py"} <= set(names)
            assert archive.read("requirements.txt") == (folder / "requirements.txt").read_bytes()
            assert {info.date_time for info in archive.infolist()} == {package.ZIP_TIMESTAMP}
    manifest = json.loads((packaged / "functions" / "manifest.json").read_text())
    assert set(manifest) == {f.name for f in FUNCTIONS}
    assert json.loads((packaged / "openapi.json").read_text())["openapi"].startswith("3.1")


def _pins(requirements: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in requirements.splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("==")
            pins[package.normalize(name)] = rest.split(";")[0].strip()
    return pins


def test_requirements_are_pinned_from_uv_lock_and_per_function(packaged: Path) -> None:
    import tomllib

    locked = {
        package.normalize(p["name"]): p["version"]
        for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
        if "version" in p
    }
    pins = {
        f.name: _pins((packaged / "functions" / f.name / "requirements.txt").read_text()) for f in FUNCTIONS
    }
    for name, function_pins in pins.items():
        assert function_pins, name
        for dist, version in function_pins.items():
            assert locked.get(dist) == version, f"{name}: {dist}=={version} is not what uv.lock pins"
        assert "functions-framework" in function_pins
        assert "pytest" not in function_pins and "ruff" not in function_pins  # no dev tools
    # Only functions that run or validate agents carry pydantic-ai and the model SDKs.
    assert not {"pydantic-ai-slim", "anthropic", "google-genai"} & set(pins["auth"])
    for name in ("runs", "worker"):
        assert {"pydantic-ai-slim", "anthropic", "google-genai", "google-cloud-pubsub"} <= set(pins[name])
    assert "argon2-cffi" in pins["auth"] and "argon2-cffi" not in pins["worker"]
    # Every HTTP function verifies Firebase ID tokens; the worker verifies none.
    for function in HTTP_FUNCTIONS:
        assert {"firebase-admin", "pyjwt"} <= set(pins[function.name])
    assert "firebase-admin" not in pins["worker"]


def test_unknown_requirement_names_are_refused() -> None:
    with pytest.raises(SystemExit, match="not-a-dependency"):
        package.dependency_closure(("functions-framework", "not-a-dependency"))


# ---------------------------------------------------------- install and serve each package


def _install(folder: Path, venv: Path) -> None:
    uv = package.uv_binary()
    subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(venv)], check=True, capture_output=True)
    command = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    command += ["-r", str(folder / "requirements.txt")]
    # From uv's cache when it has every wheel; PyPI otherwise.
    offline = subprocess.run(command, env={**os.environ, "UV_OFFLINE": "1"}, capture_output=True)
    if offline.returncode != 0:
        subprocess.run(command, check=True, capture_output=True)


@pytest.fixture(scope="session")
def venvs(packaged: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One fresh virtual environment per function, installed in parallel."""
    root = tmp_path_factory.mktemp("venvs")
    targets = {f.name: root / f.name for f in FUNCTIONS}
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = [
            pool.submit(_install, packaged / "functions" / name, venv) for name, venv in targets.items()
        ]
        for future in futures:
            future.result()
    return targets


@pytest.fixture
def served(
    packaged: Path, venvs: dict[str, Path], service_env: dict[str, str], artifacts_dir: Path
) -> Iterator[Any]:
    """Start a packaged function from its own folder and venv, as Cloud Functions would."""
    started: list[localstack.Process] = []

    def start(function: FunctionSpec, signature: str) -> str:
        port = localstack.free_port()
        folder = packaged / "functions" / function.name
        # Only the service's settings: no PYTHONPATH, so nothing outside the package is found.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), **service_env, "PYTHONUNBUFFERED": "1"}
        command = [
            str(venvs[function.name] / "bin" / "python"),
            "-m",
            "functions_framework",
            f"--target={function.entry_point}",
            "--source=main.py",
            f"--signature-type={signature}",
            "--host=127.0.0.1",
            f"--port={port}",
        ]
        process = localstack.spawn(
            f"packaged-{function.name}", command, env=env, log_dir=artifacts_dir / "deploy-logs", cwd=folder
        )
        started.append(process)
        localstack.wait_for(lambda: localstack.port_open(port), f"packaged {function.name}", 60, process.proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


def _request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("function", HTTP_FUNCTIONS, ids=lambda f: f.name)
def test_packaged_http_function_installs_and_serves_health(function: FunctionSpec, served: Any) -> None:
    base = served(function, "http")
    prefix = load_router(function).prefixes[0]
    status, body = _request(f"{base}{prefix}/health")
    assert status == 200, body
    report = json.loads(body)
    assert report["status"] == "ok"
    assert report["function"] == function.name
    assert all(backend["status"] == "ok" for backend in report["backends"].values())


def test_packaged_worker_takes_pubsub_pushes_on_an_http_trigger(served: Any) -> None:
    """Deployed HTTP-triggered (the push subscription calls its URL), the worker still
    handles CloudEvents: functions-framework binds the signature to the decorated def."""
    worker = next(f for f in FUNCTIONS if f.signature == "cloudevent")
    base = served(worker, "http")
    assert _request(f"{base}/health")[0] == 405  # not an HTTP handler
    assert _request(f"{base}/", "POST", b'{"not": "a cloud event"}')[0] == 400
    # What the push subscription sends: a poison message is acknowledged (2xx), not retried.
    push = {
        "message": {
            "data": base64.b64encode(b"not json").decode(),
            "attributes": {},
            "messageId": "deploy-test-1",
            "publishTime": "2026-01-01T00:00:00Z",
        },
        "subscription": f"projects/{localstack.Topology().push_subscription}",
    }
    topic = localstack.Topology().run_requests
    status, body = _request(f"{base}/projects/demo-deploy/topics/{topic}", "POST", json.dumps(push).encode())
    assert status in (200, 204), body


# ------------------------------------------------------------------------------ Terraform


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {
            _unquote(k): _unquote(v) for k, v in value.items() if k not in ("__comments__", "__is_block__")
        }
    return value


@pytest.fixture(scope="module")
def terraform() -> dict[str, Any]:
    """Every .tf file parsed: {"locals": {...}, "resources": {(type, name): body}, ...}."""
    import hcl2

    merged: dict[str, Any] = {"locals": {}, "resources": {}, "variables": {}, "modules": {}, "text": ""}
    for path in sorted(INFRA.glob("*.tf")):
        text = path.read_text()
        merged["text"] += text
        document = _unquote(hcl2.loads(text))
        for block in document.get("locals", []):
            merged["locals"].update(block)
        for block in document.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    merged["resources"][(rtype, name)] = body
        for block in document.get("variable", []):
            merged["variables"].update(block)
        for block in document.get("module", []):
            merged["modules"].update(block)
    return merged


def _resource(terraform: dict[str, Any], rtype: str, name: str) -> dict[str, Any]:
    assert (rtype, name) in terraform["resources"], f"{rtype}.{name} is not declared"
    return terraform["resources"][(rtype, name)]


def _interpolate(value: str, terraform: dict[str, Any]) -> str:
    def local(match: re.Match[str]) -> str:
        node: Any = terraform["locals"]
        for part in match.group(1).split("."):
            node = node[part]
        return str(node)

    return re.sub(r"\$\{local\.([a-z0-9_.]+)\}", local, value)


def test_every_terraform_file_parses_and_is_formatted() -> None:
    import hcl2

    files = sorted(INFRA.rglob("*.tf"))
    assert len(files) >= 5
    for path in files:
        assert hcl2.loads(path.read_text()), path
    if shutil.which("terraform"):
        result = subprocess.run(
            ["terraform", "fmt", "-check", "-recursive", str(INFRA)],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
        )
        assert result.returncode == 0, f"run `terraform fmt -recursive infra`: {result.stdout}"


def test_terraform_references_resolve(terraform: dict[str, Any]) -> None:
    """A poor man's `terraform validate` (which needs the providers): every resource,
    local, variable and module the configuration refers to is declared."""
    text = re.sub(r"#.*", "", terraform["text"])
    references = set(re.findall(r"(?<![.\w])((?:google|random|terraform)_[a-z0-9_]+)\.([a-z0-9_]+)\b", text))
    assert len(references) > 20
    for reference in references:
        assert reference in terraform["resources"], "{}.{} is referenced but not declared".format(*reference)
    for rtype, name in set(re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", text)):
        assert f'data "{rtype}" "{name}"' in text, f"data.{rtype}.{name} is not declared"
    for name in set(re.findall(r"\blocal\.([a-z0-9_]+)", text)):
        assert name in terraform["locals"], f"local.{name} is not declared"
    for name in set(re.findall(r"\bvar\.([a-z0-9_]+)", text)):
        assert name in terraform["variables"], f"var.{name} is not declared"
    for name in set(re.findall(r"\bmodule\.([a-z0-9_]+)", text)):
        assert name in terraform["modules"], f"module.{name} is not declared"
    keyed = {
        "google_cloudfunctions2_function.function": set(terraform["locals"]["functions"]),
        "google_pubsub_topic.topic": set(terraform["locals"]["topics"]),
        "google_compute_backend_service.function": set(terraform["locals"]["routes"]),
    }
    for prefix, keys in keyed.items():
        for key in re.findall(re.escape(prefix) + r'\["([a-z_]+)"\]', text):
            assert key in keys, f'{prefix}["{key}"] does not exist'


def test_terraform_functions_match_the_function_table(terraform: dict[str, Any]) -> None:
    functions = terraform["locals"]["functions"]
    assert set(functions) == {f.name for f in FUNCTIONS}
    for function in FUNCTIONS:
        declared = functions[function.name]
        assert declared["entry_point"] == function.entry_point
        assert declared["http"] is (function.signature == "http")
        # Pub/Sub can never deliver more often than the concurrency allows, so it must be >= 1.
        assert int(declared["concurrency"]) >= 1
    resource = _resource(terraform, "google_cloudfunctions2_function", "function")
    assert resource["for_each"] == "${local.functions}"
    service = resource["service_config"][0]
    assert service["max_instance_request_concurrency"] == "${each.value.concurrency}"
    # functions-framework's gunicorn gets as many threads as the concurrency Cloud Run sends it
    # (by default 4 per vCPU: the rest would queue inside the instance).
    assert "THREADS = tostring(each.value.concurrency)" in service["environment_variables"]
    build = resource["build_config"][0]
    assert build["runtime"] == "python311"
    assert build["entry_point"] == "${each.value.entry_point}"
    # Sources come from the zips tools/package.py builds, under the same object names.
    source = _resource(terraform, "google_storage_bucket_object", "function_source")
    assert source["name"].startswith("functions/${each.key}-${filemd5(")
    assert source["source"] == "${local.build_dir}/functions/${each.key}.zip"
    assert terraform["variables"]["build_dir"]["default"] == "../build"


def test_terraform_routes_match_the_routers(terraform: dict[str, Any]) -> None:
    routes = terraform["locals"]["routes"]
    assert set(routes) == {f.name for f in HTTP_FUNCTIONS}
    for function in HTTP_FUNCTIONS:
        assert tuple(routes[function.name]) == tuple(load_router(function).prefixes)
    url_map = _resource(terraform, "google_compute_url_map", "api")
    matcher = url_map["path_matcher"][0]
    rule = matcher["dynamic"][0]["path_rule"]
    assert rule["for_each"] == "${local.routes}"
    assert "${prefix}/*" in rule["content"][0]["paths"]
    # Unrouted paths reach a function, whose router gives the API's JSON 404.
    assert terraform["locals"]["fallback_function"] in routes
    assert matcher["default_service"] == url_map["default_service"]
    assert "local.fallback_function" in url_map["default_service"]
    (static_rule,) = matcher["path_rule"]
    assert static_rule["paths"] == "${local.static_paths}"
    assert static_rule["service"] == "${google_compute_backend_bucket.static.id}"
    assert '"/openapi.json"' in terraform["locals"]["static_paths"]
    # The console's files (uploaded from client/web) never shadow an API path.
    web_files = [
        p.relative_to(ROOT / "client" / "web").as_posix() for p in (ROOT / "client" / "web").rglob("*")
    ]
    prefixes = [prefix for function_prefixes in routes.values() for prefix in function_prefixes]
    for file in web_files:
        assert not any(f"/{file}" == p or f"/{file}".startswith(p + "/") for p in prefixes), file
    neg = _resource(terraform, "google_compute_region_network_endpoint_group", "function")
    assert neg["for_each"] == "${local.http_functions}"
    # /openapi.json: generated by tools/package.py and served from the static bucket.
    openapi = _resource(terraform, "google_storage_bucket_object", "openapi")
    assert openapi["name"] == "openapi.json"
    assert openapi["source"] == "${local.build_dir}/openapi.json"


def test_terraform_pubsub_matches_topology_and_settings(terraform: dict[str, Any]) -> None:
    from shared.settings import Settings

    topology = localstack.Topology()
    topics = terraform["locals"]["topics"]
    assert topics == {
        "run_requests": topology.run_requests,
        "run_results": topology.run_results,
        "dead_letter": topology.dead_letter,
        "webhook_deliveries": topology.webhook_deliveries,
        "webhook_dead_letter": topology.webhook_dead_letter,
        "schedule_ticks": topology.schedule_ticks,
    }
    defaults = Settings.model_fields
    assert topics["run_requests"] == defaults["run_requests_topic"].default
    assert topics["run_results"] == defaults["run_results_topic"].default
    assert topics["dead_letter"] == defaults["run_dead_letter_topic"].default
    assert topics["webhook_deliveries"] == defaults["webhook_deliveries_topic"].default
    assert topics["webhook_dead_letter"] == defaults["webhook_dead_letter_topic"].default
    assert topics["schedule_ticks"] == defaults["schedule_ticks_topic"].default
    subscriptions = {k: _interpolate(v, terraform) for k, v in terraform["locals"]["subscriptions"].items()}
    assert subscriptions == {
        "worker_push": topology.push_subscription,
        "results_tap": topology.results_subscription,
        "dead_letter": topology.dead_letter_subscription,
        # Finished runs pushed back to the worker, which scores eval cases.
        "results_push": topology.results_push_subscription,
    }

    push = _resource(terraform, "google_pubsub_subscription", "worker_push")
    assert push["topic"] == '${google_pubsub_topic.topic["run_requests"].id}'
    config = push["push_config"][0]
    assert config["push_endpoint"].startswith('${google_cloudfunctions2_function.function["worker"]')
    assert config["push_endpoint"].endswith("/topics/${local.topics.run_requests}")
    assert (
        config["oidc_token"][0]["service_account_email"] == "${google_service_account.worker_invoker.email}"
    )
    assert (
        push["dead_letter_policy"][0]["dead_letter_topic"] == '${google_pubsub_topic.topic["dead_letter"].id}'
    )
    assert push["retry_policy"]
    ack_deadline = terraform["locals"]["run_ack_deadline_seconds"]
    worker_timeout = terraform["locals"]["worker_timeout_seconds"]
    assert worker_timeout < ack_deadline <= 600
    assert terraform["locals"]["functions"]["worker"]["timeout"] == "${local.worker_timeout_seconds}"
    # Leases are renewed every third of their length, so a short one only speeds up takeover.
    assert terraform["locals"]["common_env"]["RUN_LEASE_SECONDS"] == "${tostring(local.run_lease_seconds)}"
    assert 15 <= terraform["locals"]["run_lease_seconds"] < ack_deadline
    # The Pub/Sub service agent forwards dead letters and acks them on the source.
    dlq_publisher = _resource(terraform, "google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert dlq_publisher["topic"] == '${google_pubsub_topic.topic["dead_letter"].id}'
    assert dlq_publisher["role"] == "roles/pubsub.publisher"
    assert dlq_publisher["member"] == "${local.pubsub_service_agent}"
    source_subscriber = _resource(
        terraform, "google_pubsub_subscription_iam_member", "dead_letter_source_subscriber"
    )
    assert source_subscriber["subscription"] == "${google_pubsub_subscription.worker_push.id}"
    assert source_subscriber["role"] == "roles/pubsub.subscriber"
    invoker = _resource(terraform, "google_cloud_run_service_iam_member", "worker_invoker")
    assert invoker["member"] == "${google_service_account.worker_invoker.member}"
    for name, function in terraform["locals"]["functions"].items():
        for topic in [*function["publishes_to"], *function["reads_topics"]]:
            assert topic in topics, f"{name} publishes to unknown topic {topic}"


def test_terraform_schedules_the_sweep_on_the_run_requests_topic(terraform: dict[str, Any]) -> None:
    from shared.runs.sweep import is_sweep_message

    job = _resource(terraform, "google_cloud_scheduler_job", "run_sweep")
    target = job["pubsub_target"][0]
    assert target["topic_name"] == '${google_pubsub_topic.topic["run_requests"].id}'
    # The message the job sends is the one the worker recognises as a sweep.
    assert is_sweep_message({str(k): str(v) for k, v in target["attributes"].items()})
    assert job["schedule"].startswith("*/")
    grant = _resource(terraform, "google_pubsub_topic_iam_member", "scheduler_publisher")
    assert grant["topic"] == target["topic_name"] and grant["role"] == "roles/pubsub.publisher"
    assert "cloudscheduler.googleapis.com" in terraform["locals"]["services"]


def test_terraform_pushes_the_dispatchers_topics_and_ticks_every_minute(terraform: dict[str, Any]) -> None:
    """infra/automation.tf against tools/localstack.ensure_topology (the same subscriptions)."""
    topology = localstack.Topology()
    topics = terraform["locals"]["topics"]
    assert set(terraform["locals"]["dispatcher_topics"]) == {
        "run_results",
        "webhook_deliveries",
        "webhook_dead_letter",
        "schedule_ticks",
    }
    push = _resource(terraform, "google_pubsub_subscription", "dispatcher_push")
    assert push["name"] == "${local.topics[each.key]}-dispatcher-push"
    assert (
        topology.dispatcher_subscription(topology.webhook_deliveries)
        == f"{topics['webhook_deliveries']}-dispatcher-push"
    )
    endpoint = push["push_config"][0]["push_endpoint"]
    assert endpoint.startswith('${google_cloudfunctions2_function.function["dispatcher"]')
    assert endpoint.endswith("/topics/${local.topics[each.key]}")
    backoff = push["retry_policy"][0]
    assert backoff["minimum_backoff"] == "10s" and backoff["maximum_backoff"] == "600s"
    dead_letter = push["dynamic"][0]["dead_letter_policy"]
    assert (
        dead_letter["content"][0]["dead_letter_topic"]
        == '${google_pubsub_topic.topic["webhook_dead_letter"].id}'
    )
    # 100 attempts at up to 600 s apart ≈ 16 h per round; rounds restart for the retry window.
    assert int(dead_letter["content"][0]["max_delivery_attempts"]) == 100
    ack = terraform["locals"]["dispatcher_ack_deadline_seconds"]
    assert terraform["locals"]["dispatcher_timeout_seconds"] < ack <= 600
    job = _resource(terraform, "google_cloud_scheduler_job", "schedule_tick")
    assert job["schedule"] == "* * * * *"
    assert job["pubsub_target"][0]["topic_name"] == '${google_pubsub_topic.topic["schedule_ticks"].id}'
    grant = _resource(terraform, "google_pubsub_topic_iam_member", "scheduler_tick_publisher")
    assert grant["topic"] == job["pubsub_target"][0]["topic_name"]


def test_terraform_settings_and_secrets_exist_in_the_code(terraform: dict[str, Any]) -> None:
    from shared.settings import Settings

    known = {name.upper() for name in Settings.model_fields}
    known |= {
        str(field.validation_alias) for field in Settings.model_fields.values() if field.validation_alias
    }
    env = terraform["locals"]["common_env"]
    for name in [*env, "WORKSPACE_ROOT", "JWT_SECRET"]:
        assert name in known, f"{name} is not a setting in shared/settings.py"
    assert env["ENVIRONMENT"] == "cloud"
    assert terraform["locals"]["jwt_secret_id"] == Settings.model_fields["jwt_secret_name"].default
    # Only the functions that verify tokens (the HTTP ones) can read the signing key.
    verifying = {name for name, f in terraform["locals"]["functions"].items() if f["verify_tokens"] is True}
    assert verifying == {f.name for f in HTTP_FUNCTIONS}
    accessor = _resource(terraform, "google_secret_manager_secret_iam_member", "jwt_accessor")
    assert "fn.verify_tokens" in accessor["for_each"]
    assert accessor["role"] == "roles/secretmanager.secretAccessor"


def test_terraform_workspace_mount_matches_the_deploy_script(terraform: dict[str, Any]) -> None:
    functions = terraform["locals"]["functions"]
    assert {name for name, f in functions.items() if f["workspace"] is True} == set(
        deploy.WORKSPACE_FUNCTIONS
    )
    assert terraform["locals"]["workspace_mount_path"] == deploy.WORKSPACE_MOUNT_PATH
    buckets = {
        name: _resource(terraform, "google_storage_bucket", name)["name"] for name in ("sources", "workspace")
    }
    assert buckets["sources"] == deploy.source_bucket("${var.project_id}")
    assert buckets["workspace"] == deploy.workspace_bucket("${var.project_id}")
    attach = _resource(terraform, "terraform_data", "workspace_volume")
    assert attach["for_each"] == "${local.workspace_functions}"
    assert (
        "python3 -m tools.deploy attach-workspace ${each.key}"
        in attach["provisioner"][0]["local-exec"]["command"]
    )
    # Vertex AI only where models run.
    assert {name for name, f in functions.items() if f["vertex"] is True} == {"runs", "worker"}


# ------------------------------------------------------------------- Firestore indexes


def _terraform_indexes(indexes_file: Path, tmp_path: Path) -> dict[str, Any]:
    """Evaluate infra/modules/firestore_indexes with `terraform console` (no providers)."""
    if not shutil.which("terraform"):
        pytest.skip("terraform CLI not installed")
    module = tmp_path / "module"
    shutil.copytree(INFRA / "modules" / "firestore_indexes", module)
    result = subprocess.run(
        ["terraform", "console", f"-var=indexes_file={indexes_file}"],
        input="jsonencode({indexes = local.indexes, field_overrides = local.field_overrides})\n",
        capture_output=True,
        text=True,
        cwd=module,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"},
        check=True,
    )
    return json.loads(json.loads(result.stdout.strip()))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _expected_indexes(document: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "collection": index["collectionGroup"],
                "query_scope": index.get("queryScope", "COLLECTION"),
                "fields": [
                    {
                        "field_path": field["fieldPath"],
                        "order": field.get("order"),
                        "array_config": field.get("arrayConfig"),
                    }
                    for field in index["fields"]
                ],
            }
            for index in document["indexes"]
        ),
        key=_canonical,
    )


def test_indexes_file_is_valid_firebase_format_with_ttl_policies() -> None:
    document = json.loads(INDEXES_FILE.read_text())
    assert set(document) == {"indexes", "fieldOverrides"}
    seen = set()
    for index in document["indexes"]:
        assert index["collectionGroup"] and index["queryScope"] in ("COLLECTION", "COLLECTION_GROUP"), index
        assert len(index["fields"]) >= 2, f"a one-field index is automatic: {index}"
        for field in index["fields"]:
            assert field["fieldPath"]
            assert ("order" in field) != ("arrayConfig" in field), field
            assert field.get("order", "ASCENDING") in ("ASCENDING", "DESCENDING")
        key = json.dumps(index, sort_keys=True)
        assert key not in seen, f"duplicate index {index}"
        seen.add(key)
    ttl = {
        o["collectionGroup"]
        for o in document["fieldOverrides"]
        if o.get("ttl") and o["fieldPath"] == "expires_at"
    }
    assert ttl >= TTL_COLLECTIONS


def test_terraform_indexes_agree_with_indexes_file(terraform: dict[str, Any], tmp_path: Path) -> None:
    module = terraform["modules"]["firestore_indexes"]
    assert module["indexes_file"] == "${path.module}/firestore.indexes.json"
    assert _resource(terraform, "google_firestore_index", "composite")["for_each"] == (
        "${module.firestore_indexes.indexes}"
    )
    assert _resource(terraform, "google_firestore_field", "override")["for_each"] == (
        "${module.firestore_indexes.field_overrides}"
    )
    document = json.loads(INDEXES_FILE.read_text())
    evaluated = _terraform_indexes(INDEXES_FILE, tmp_path)
    assert sorted(evaluated["indexes"].values(), key=_canonical) == _expected_indexes(document)
    overrides = {(o["collection"], o["field"]): o for o in evaluated["field_overrides"].values()}
    assert set(overrides) == {(o["collectionGroup"], o["fieldPath"]) for o in document["fieldOverrides"]}
    for collection in TTL_COLLECTIONS:
        assert overrides[(collection, "expires_at")]["ttl"] is True
        assert overrides[(collection, "expires_at")]["indexes"] == []


def test_terraform_index_module_maps_every_field_kind(tmp_path: Path) -> None:
    """The module on a file with indexes (the real one may have few yet)."""
    sample = {
        "indexes": [
            {
                "collectionGroup": "runs",
                "queryScope": "COLLECTION",
                "fields": [
                    {"fieldPath": "owner_id", "order": "ASCENDING"},
                    {"fieldPath": "created_at", "order": "DESCENDING"},
                ],
            },
            {
                "collectionGroup": "listings",
                "queryScope": "COLLECTION_GROUP",
                "fields": [
                    {"fieldPath": "tags", "arrayConfig": "CONTAINS"},
                    {"fieldPath": "published_at", "order": "DESCENDING"},
                ],
            },
        ],
        "fieldOverrides": [
            {
                "collectionGroup": "runs",
                "fieldPath": "input",
                "indexes": [{"order": "ASCENDING", "queryScope": "COLLECTION"}],
            }
        ],
    }
    path = tmp_path / "firestore.indexes.json"
    path.write_text(json.dumps(sample))
    evaluated = _terraform_indexes(path, tmp_path)
    assert sorted(evaluated["indexes"].values(), key=_canonical) == _expected_indexes(sample)
    (override,) = evaluated["field_overrides"].values()
    assert override == {
        "collection": "runs",
        "field": "input",
        "ttl": False,
        "indexes": [{"order": "ASCENDING", "array_config": None, "query_scope": "COLLECTION"}],
    }


# ------------------------------------------------------------------ deployment security

# What each role the deployment grants allows, for the permissions the plans below need
# (from Google's predefined-role reference; only the permissions these tests ask about).
ROLE_PERMISSIONS = {
    "roles/logging.logWriter": {"logging.logEntries.create"},
    "roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list"},
    "roles/storage.legacyObjectReader": {"storage.objects.get"},
    "roles/storage.objectCreator": {"storage.objects.create"},
    "roles/storage.objectAdmin": {
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.create",
        "storage.objects.delete",
    },
    "roles/artifactregistry.writer": {
        "artifactregistry.repositories.uploadArtifacts",
        "artifactregistry.repositories.downloadArtifacts",
    },
    "roles/cloudfunctions.developer": {"cloudfunctions.functions.update", "cloudfunctions.functions.get"},
    "roles/run.developer": {"run.services.get", "run.services.update"},
    "roles/iam.serviceAccountUser": {"iam.serviceAccounts.actAs"},
}
PROJECT_NUMBER = "123456789012"


def _grants(terraform: dict[str, Any], member: str) -> list[dict[str, Any]]:
    """Every IAM grant to ``member`` as {"scope": resource reference or "project", "role", "condition"}."""
    scopes = {
        "google_project_iam_member": lambda body: "project",
        "google_storage_bucket_iam_member": lambda body: body["bucket"],
        "google_artifact_registry_repository_iam_member": lambda body: body["repository"],
        "google_service_account_iam_member": lambda body: body["service_account_id"],
        "google_pubsub_topic_iam_member": lambda body: body["topic"],
        "google_secret_manager_secret_iam_member": lambda body: body["secret_id"],
        "google_cloud_run_service_iam_member": lambda body: body["service"],
    }
    found = []
    for (rtype, name), body in terraform["resources"].items():
        if rtype.endswith("_iam_member") and body.get("member") == member:
            assert rtype in scopes, f"{rtype}.{name}: a grant kind these tests do not know"
            roles, scope_list = [body["role"]], [scopes[rtype](body)]
            if "each.value" in body["role"]:
                roles = re.findall(r'"(roles/[^"]+)"', body["for_each"])
            if scope_list == ["${each.value}"] and isinstance(body["for_each"], dict):
                scope_list = list(body["for_each"].values())
            condition = (body.get("condition") or [{}])[0].get("expression")
            for role in roles:
                for scope in scope_list:
                    found.append({"name": name, "scope": scope, "role": role, "condition": condition})
    return found


def _condition_allows(expression: str | None, object_name: str, terraform: dict[str, Any]) -> bool:
    """Evaluate the one IAM condition shape the deployment uses: resource.name.startsWith('...')."""
    if expression is None:
        return True
    (prefix,) = re.fullmatch(r"resource\.name\.startsWith\('([^']+)'\)", expression).groups()  # type: ignore[union-attr]
    prefix = prefix.replace(
        "${local.function_staging_bucket}", terraform["locals"]["function_staging_bucket"]
    )
    prefix = prefix.replace("${local.project_number}", PROJECT_NUMBER).replace("${var.region}", "us-central1")
    return object_name.startswith(prefix)


def _allowed(
    terraform: dict[str, Any], member: str, permission: str, scope: str, object_name: str = ""
) -> list[str]:
    """The grants that give ``member`` ``permission`` on ``scope`` (a resource reference)."""
    return [
        grant["name"]
        for grant in _grants(terraform, member)
        if permission in ROLE_PERMISSIONS.get(grant["role"], set())
        and (grant["scope"] == scope or grant["scope"] == "project")
        and _condition_allows(grant["condition"], object_name, terraform)
    ]


def test_function_builds_hold_only_what_a_packaged_deploy_plan_needs(
    terraform: dict[str, Any], packaged: Path, capsys: Any
) -> None:
    builder = "${google_service_account.builder.member}"
    grants = _grants(terraform, builder)
    roles = {grant["role"] for grant in grants}
    assert "roles/cloudbuild.builds.builder" not in roles
    assert not roles & {"roles/editor", "roles/owner", "roles/storage.admin", "roles/storage.objectAdmin"}
    # A project-wide grant is narrowed by a condition unless it is log writing.
    for grant in grants:
        if grant["scope"] == "project" and grant["role"] != "roles/logging.logWriter":
            assert grant["condition"], f"{grant['name']}: {grant['role']} on the whole project"

    # The plan Cloud Build's deploy step runs for one packaged function ...
    deploy.main(
        [
            "function",
            "runs",
            "--project=demo-deploy",
            "--region=us-central1",
            "--dry-run",
            f"--build-dir={packaged}",
        ]
    )
    printed = capsys.readouterr().out
    command = next(line for line in printed.splitlines() if "gcloud functions deploy runs" in line)
    flags = dict(re.findall(r"--([a-z-]+)=(\S+)", command))
    assert (
        flags["build-service-account"]
        == "projects/demo-deploy/serviceAccounts/fn-builder@demo-deploy.iam.gserviceaccount.com"
    )
    repository = _resource(terraform, "google_artifact_registry_repository", "functions")
    assert (
        flags["docker-repository"]
        == f"projects/demo-deploy/locations/us-central1/repositories/{repository['repository_id']}"
    )
    function = _resource(terraform, "google_cloudfunctions2_function", "function")
    assert function["build_config"][0]["service_account"] == "${google_service_account.builder.id}"
    assert (
        function["build_config"][0]["docker_repository"]
        == "${google_artifact_registry_repository.functions.id}"
    )

    # ... needs: the staged source archive, a push to that repository, build logs.
    staging = f"gcf-v2-sources-{PROJECT_NUMBER}-us-central1"
    assert (
        terraform["locals"]["function_staging_bucket"]
        == "gcf-v2-sources-${local.project_number}-${var.region}"
    )
    archive = f"projects/_/buckets/{staging}/objects/runs/function-source.zip"
    assert _allowed(terraform, builder, "storage.objects.get", "project", archive)
    repo_ref = "${google_artifact_registry_repository.functions.name}"
    assert _allowed(terraform, builder, "artifactregistry.repositories.uploadArtifacts", repo_ref)
    assert _allowed(terraform, builder, "logging.logEntries.create", "project")
    # And nothing beyond: no other bucket's objects, no writes anywhere in Cloud Storage.
    for bucket in (
        "demo-deploy-tfstate",
        "demo-deploy-api-static",
        "demo-deploy-workspaces",
        f"{staging}-other",
    ):
        assert not _allowed(
            terraform, builder, "storage.objects.get", "project", f"projects/_/buckets/{bucket}/objects/x"
        )
    for grant in grants:
        assert "storage.objects.create" not in ROLE_PERMISSIONS.get(grant["role"], set()), grant["name"]


def test_deployer_and_ci_accounts_hold_exactly_what_their_builds_do(terraform: dict[str, Any]) -> None:
    deployer = "${google_service_account.deployer.member}"
    sources = "${google_storage_bucket.sources.name}"
    releases = "${google_storage_bucket.build_artifacts.name}"
    assert _allowed(terraform, deployer, "storage.objects.get", releases)  # fetch-release
    assert _allowed(terraform, deployer, "storage.objects.create", sources)  # upload the zip
    assert _allowed(terraform, deployer, "storage.objects.create", "${google_storage_bucket.static.name}")
    assert _allowed(terraform, deployer, "cloudfunctions.functions.update", "project")
    assert _allowed(terraform, deployer, "run.services.update", "project")  # attach-workspace
    acts_as = _resource(terraform, "google_service_account_iam_member", "deployer_acts_as")
    assert "google_service_account.function" in acts_as["for_each"]
    assert "google_service_account.builder.name" in acts_as["for_each"]
    # The unprivileged build: its logs and new release objects, nothing else at all.
    ci = "${google_service_account.ci.member}"
    assert {(g["scope"], g["role"]) for g in _grants(terraform, ci)} == {
        ("project", "roles/logging.logWriter"),
        (releases, "roles/storage.objectCreator"),
    }


def test_only_run_creating_functions_and_the_scheduler_publish_run_requests(
    terraform: dict[str, Any],
) -> None:
    functions = terraform["locals"]["functions"]
    publishers = {name for name, fn in functions.items() if "run_requests" in fn["publishes_to"]}
    # automation (POST /schedules/{id}/run-now) and dispatcher (the schedule tick) create runs too.
    # marketplace: verification evals of published listings start runs (shared/evals/verified.py).
    assert publishers == {"runs", "worker", "automation", "dispatcher", "marketplace"}
    grant = _resource(terraform, "google_pubsub_topic_iam_member", "function_publisher")
    assert grant["for_each"] == "${local.topic_publishers}" and grant["role"] == "roles/pubsub.publisher"
    assert grant["member"] == "${google_service_account.function[each.value.function].member}"
    scheduler = _resource(terraform, "google_pubsub_topic_iam_member", "scheduler_publisher")
    assert scheduler["topic"] == '${google_pubsub_topic.topic["run_requests"].id}'
    # Nobody holds a Pub/Sub role on the whole project.
    for (rtype, name), body in terraform["resources"].items():
        if rtype == "google_project_iam_member":
            assert "pubsub" not in str(body.get("role", "")) + str(body.get("for_each", "")), name


def test_public_console_bucket_grants_object_reads_only(terraform: dict[str, Any]) -> None:
    public = [
        (name, body)
        for (rtype, name), body in terraform["resources"].items()
        if rtype.endswith("_iam_member") and body.get("member") in ("allUsers", "allAuthenticatedUsers")
    ]
    buckets = {name: body for name, body in public if "bucket" in body}
    assert set(buckets) == {"static_public"}
    grant = buckets["static_public"]
    assert grant["bucket"] == "${google_storage_bucket.static.name}"
    assert ROLE_PERMISSIONS[grant["role"]] == {"storage.objects.get"}  # no storage.objects.list
    # The only other public grant: invoking the HTTP functions, which only the load balancer reaches.
    assert {name for name, _ in public} == {"static_public", "public_invoker"}
    function = _resource(terraform, "google_cloudfunctions2_function", "function")
    assert function["service_config"][0]["ingress_settings"] == (
        '${each.value.http ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"}'
    )


def _cel_matches(expression: str, method: str, path: str) -> bool:
    """Evaluate the small CEL subset the rate-limit rules use (==, startsWith, &&, ||)."""
    python = (
        expression.replace("&&", " and ")
        .replace("||", " or ")
        .replace(".startsWith(", ".startswith(")
        .replace("request.method", "method")
        .replace("request.path", "path")
    )
    assert re.fullmatch(r"[\sA-Za-z0-9_.()'=/\*]+", python), python
    return bool(eval(python, {"__builtins__": {}}, {"method": method, "path": path}))


def test_cloud_armor_guards_every_backend_service(terraform: dict[str, Any]) -> None:
    backend = _resource(terraform, "google_compute_backend_service", "function")
    assert backend["for_each"] == "${local.http_functions}"
    assert backend["security_policy"] == "${google_compute_security_policy.api.id}"
    policy = _resource(terraform, "google_compute_security_policy", "api")
    assert policy["adaptive_protection_config"][0]["layer_7_ddos_defense_config"][0]["enable"] is True
    # Known-CVE probes are refused outright (not in preview).
    (canary,) = [rule for rule in policy["rule"] if "cve-canary" in str(rule["match"])]
    assert canary["action"] == "deny(403)" and not canary.get("preview")
    waf = terraform["locals"]["edge_waf_rules"]
    used = {re.search(r"'([a-z0-9-]+)'", rule["expression"]).group(1) for rule in waf.values()}  # type: ignore[union-attr]
    # Rule sets that inspect bodies for SQL/HTML/paths would refuse legitimate prompts and files.
    assert not any(
        name.split("-")[0] in {"sqli", "xss", "lfi", "rfi", "rce", "php", "methodenforcement"}
        for name in used
    )
    dynamic = {block["rule"]["for_each"]: block["rule"]["content"][0] for block in policy["dynamic"]}
    assert dynamic["${local.edge_waf_rules}"]["action"] == "deny(403)"
    (default,) = [rule for rule in policy["rule"] if int(rule["priority"]) == 2147483647]
    assert default["action"] == "allow"

    # Per-IP throttles: every POST of the auth function and every run-creating POST is
    # counted; reads are not.
    limits = terraform["locals"]["edge_rate_limits"]
    throttle = dynamic["${local.edge_rate_limits}"]
    assert throttle["action"] == "throttle"
    options = throttle["rate_limit_options"][0]
    assert options["enforce_on_key"] == "IP" and options["exceed_action"] == "deny(429)"
    assert options["rate_limit_threshold"][0]["interval_sec"] == 60
    routers = {function.name: load_router(function) for function in HTTP_FUNCTIONS}
    example = {"{run_id}": "r1", "{batch_id}": "b1", "{session_id}": "s1"}

    def concrete(path: str) -> str:
        for name, value in example.items():
            path = path.replace(name, value)
        return re.sub(r"\{[a-z_:]+\}", "x", path)

    auth_posts = [concrete(r.path) for r in routers["auth"].routes if r.method == "POST"]
    assert auth_posts
    for path in auth_posts:
        assert _cel_matches(limits["auth"]["expression"], "POST", path), path
    # Every POST that starts model work: runs, batches and the OpenAI-compatible endpoints.
    run_creation = ["/runs", "/batches", "/v1/chat/completions", "/v1/responses"]
    for path in run_creation:
        assert any(r.method == "POST" and r.path == path for r in routers["runs"].routes)
        assert _cel_matches(limits["run_creation"]["expression"], "POST", path)
    for route in routers["runs"].routes:
        if route.method == "GET":
            assert not _cel_matches(limits["run_creation"]["expression"], "GET", concrete(route.path))
    assert not _cel_matches(limits["run_creation"]["expression"], "POST", "/runs/r1/cancel")
    assert not _cel_matches(limits["auth"]["expression"], "GET", "/auth/me")
    for limit in limits.values():
        assert 0 < int(limit["per_minute"]) <= 1000


def test_warm_instances_are_configurable_and_cpu_boost_is_applied(
    terraform: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    function = _resource(terraform, "google_cloudfunctions2_function", "function")
    assert function["service_config"][0]["min_instance_count"] == (
        "${lookup(var.min_instances, each.key, each.value.min_instances)}"
    )
    assert terraform["variables"]["min_instances"]["default"] == {}
    boost = _resource(terraform, "terraform_data", "startup_cpu_boost")
    assert "!fn.workspace" in boost["for_each"]
    assert "tools.deploy cpu-boost" in boost["provisioner"][0]["local-exec"]["command"]
    # The functions with a workspace get the boost in the volume's revision.
    deploy.attach_workspace(
        "runs", project="p", region="r", bucket="b", mount_path="/mnt/workspace", dry_run=True
    )


def test_https_proxy_requires_tls_1_2_with_the_modern_profile(terraform: dict[str, Any]) -> None:
    policy = _resource(terraform, "google_compute_ssl_policy", "api")
    assert policy["profile"] == "MODERN" and policy["min_tls_version"] == "TLS_1_2"
    proxy = _resource(terraform, "google_compute_target_https_proxy", "api")
    assert proxy["ssl_policy"] == "${google_compute_ssl_policy.api.id}"
    # Plain HTTP only redirects.
    redirect = _resource(terraform, "google_compute_url_map", "https_redirect")
    assert redirect["default_url_redirect"][0]["https_redirect"] is True


def test_checkov_runs_in_lint_and_every_skip_says_why() -> None:
    script = (ROOT / "tools" / "lint.sh").read_text()
    (command,) = [line for line in script.splitlines() if "checkov" in line and not line.startswith("#")]
    assert "--directory infra" in command
    assert "--skip-check" not in command and "--soft-fail" not in command
    assert "checkov==" in (ROOT / "tools" / "checkov" / "pyproject.toml").read_text()
    assert (ROOT / "tools" / "checkov" / "uv.lock").is_file()
    skips = []
    for path in sorted(INFRA.rglob("*.tf")):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = re.search(r"#\s*checkov:skip=(CKV2?_[A-Z]+_\d+):(.+)$", line)
                assert match, f"{path.name}: {line.strip()}"
                assert len(match.group(2).strip()) >= 30, f"{path.name}: give the reason: {line.strip()}"
                skips.append(match.group(1))
    assert skips  # the public console and invoker grants are deliberate, so some exist


def test_deploy_docs_publish_no_password() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    # Passwords in commands come from a variable (generated or prompted), never a literal.
    for value in re.findall(r'\\?"password\\?"\s*:\s*\\?"([^"\\]*)', text):
        assert value.startswith("$"), f"docs/deploy.md publishes a password: {value!r}"
    assert re.search(r"secrets\.token_urlsafe|read -rs", text)


def test_security_doc_points_at_what_makes_each_claim_true(terraform: dict[str, Any]) -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    resources = set(re.findall(r"`((?:google|random|terraform)_[a-z0-9_]+)\.([a-z0-9_]+)`", text))
    assert len(resources) >= 10
    for reference in resources:
        assert reference in terraform["resources"], "docs/security.md names {}.{}".format(*reference)
    tests = set(re.findall(r"`(tests/test_[a-z0-9_]+\.py)(?:::([a-z0-9_]+))?`", text))
    assert tests
    for file, name in tests:
        assert (ROOT / file).is_file(), file
        if name:
            assert re.search(rf"^(?:async )?def {name}\(", (ROOT / file).read_text(), re.MULTILINE), (
                f"{file}::{name}"
            )
    for claim in ("VPC Service Controls are declared", "only the gateway's service account may invoke"):
        assert claim not in text


# ---------------------------------------------------------------------------- Cloud Build

DIGEST_PINNED = re.compile(r"^[a-z0-9.\-/:_]+@sha256:[0-9a-f]{64}$")


def _load_yaml(name: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def cloudbuild() -> dict[str, Any]:
    """The unprivileged build: lint, tests, packaging, upload of the release."""
    return _load_yaml("cloudbuild.yaml")


@pytest.fixture(scope="module")
def deploy_build() -> dict[str, Any]:
    """The deploy build: fetch a tested release and deploy it."""
    return _load_yaml("cloudbuild.deploy.yaml")


def _step_text(step: dict[str, Any]) -> str:
    return " ".join([step.get("entrypoint", ""), *step.get("args", [])])


@pytest.mark.parametrize("name", ["cloudbuild.yaml", "cloudbuild.deploy.yaml"])
def test_cloudbuild_steps_form_a_valid_graph_with_images_pinned_by_digest(name: str) -> None:
    build = _load_yaml(name)
    steps = build["steps"]
    ids = [step["id"] for step in steps]
    assert len(ids) == len(set(ids))
    for step in steps:
        for dependency in step.get("waitFor", []):
            assert dependency == "-" or dependency in ids, f"{step['id']} waits for unknown {dependency}"
    text = (ROOT / name).read_text()
    declared = set(build["substitutions"])
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", text)) | set(re.findall(r"\$(_[A-Z0-9_]+)", text))
    assert used <= declared
    assert all(key.startswith("_") for key in declared)
    # Every image a step or a `docker run` uses is a digest, never a movable tag.
    images = {key: value for key, value in build["substitutions"].items() if key.endswith("_IMAGE")}
    assert images
    for key, image in images.items():
        assert DIGEST_PINNED.match(image), f"{name}: {key} is not pinned by digest: {image}"
    for step in steps:
        image = step["name"]
        resolved = images.get(image.removeprefix("${").removesuffix("}"), image)
        assert DIGEST_PINNED.match(resolved), f"{name}: step {step['id']} uses {image}"
    for reference in re.findall(r"docker (?:run|create)[^\n]*?(\$\{_[A-Z_]+\}|\S+@\S+)", text):
        assert reference.startswith("${_") or DIGEST_PINNED.match(reference)


def test_unprivileged_build_installs_from_locks_and_deploys_nothing(
    cloudbuild: dict[str, Any], terraform: dict[str, Any]
) -> None:
    text = (ROOT / "cloudbuild.yaml").read_text()
    assert cloudbuild["serviceAccount"].endswith(
        "/serviceAccounts/cloud-ci@$PROJECT_ID.iam.gserviceaccount.com"
    )
    ci = _resource(terraform, "google_service_account", "ci")
    assert ci["account_id"] == "cloud-ci"
    steps = {step["id"]: step for step in cloudbuild["steps"]}
    scripts = " ".join(_step_text(step) for step in steps.values())
    # Nothing deploys from here, and nothing installs around a lock file.
    assert "tools.deploy" not in scripts and "functions deploy" not in scripts
    assert "npx" not in text
    assert "uv sync --frozen" in steps["install"]["args"][-1]
    assert "cd tools/checkov" in steps["install"]["args"][-1]
    for pip in re.findall(r"pip install[^\n]*", text):
        assert "--require-hashes" in pip, pip
    assert "npm ci" in steps["emulators"]["args"][-1] and "npm install" not in text
    pinned = (ROOT / "tools" / "ci" / "uv-requirements.txt").read_text()
    assert re.search(r"^uv==[0-9.]+ \\$", pinned, re.MULTILINE) and "--hash=sha256:" in pinned
    # Lint is the same script as `make lint`; the suite and packaging run; the release is
    # uploaded only after all three passed.
    assert steps["lint"]["args"][-1] == "tools/lint.sh"
    assert "tools/lint.sh" in (ROOT / "Makefile").read_text()
    assert "-m pytest" in scripts and "-m tools.package" in scripts
    assert set(steps["upload-release"]["waitFor"]) == {"lint", "test", "package"}
    bucket = _resource(terraform, "google_storage_bucket", "build_artifacts")["name"]
    assert bucket == "${var.project_id}-build-artifacts"
    assert "gs://$PROJECT_ID-build-artifacts/releases/${_RELEASE}/" in steps["upload-release"]["args"][-1]
    # The test step points the suite at the emulator containers the first step starts.
    test_env = dict(item.split("=", 1) for item in steps["test"]["env"])
    emulators = " ".join(steps["emulators"]["args"])
    for key in (
        "TEST_FIRESTORE_EMULATOR_HOST",
        "TEST_PUBSUB_EMULATOR_HOST",
        "TEST_FIREBASE_AUTH_EMULATOR_HOST",
    ):
        host, port = test_env[key].split(":")
        assert f"--name={host}" in emulators and port in emulators
        assert f"http://{host}:{port}/" in steps["test"]["args"][-1]


def test_deploy_build_only_deploys_a_tested_release(
    deploy_build: dict[str, Any], packaged: Path, capsys: Any
) -> None:
    text = (ROOT / "cloudbuild.deploy.yaml").read_text()
    assert deploy_build["serviceAccount"].endswith("/cloud-deployer@$PROJECT_ID.iam.gserviceaccount.com")
    # No installation, no tests, no packaging: only copying the release and deploying it.
    for word in ("pip ", "uv ", "npm", "npx", "pytest", "make ", "tools.package"):
        assert word not in text, word
    steps = {step["id"]: step for step in deploy_build["steps"]}
    fetch = steps["fetch-release"]["args"][-1]
    assert "gs://$PROJECT_ID-build-artifacts/releases/${_RELEASE}/functions" in fetch
    deploys = {key: step for key, step in steps.items() if key.startswith("deploy-")}
    assert {f"deploy-{f.name}" for f in FUNCTIONS} | {"deploy-openapi"} == set(deploys)
    for step in deploys.values():
        assert step["waitFor"] == ["fetch-release"]
    for function in FUNCTIONS:
        args = steps[f"deploy-{function.name}"]["args"]
        assert args[:2] == ["-m", "tools.deploy"]
        argv = [
            a.replace("$PROJECT_ID", "demo-deploy").replace("${_REGION}", "us-central1") for a in args[2:]
        ]
        deploy.main([*argv, "--dry-run", f"--build-dir={packaged}"])
        printed = capsys.readouterr().out
        assert f"gcloud functions deploy {function.name} --gen2" in printed
        assert f"--entry-point={function.entry_point}" in printed
        manifest = json.loads((packaged / "functions" / "manifest.json").read_text())
        assert f"gs://demo-deploy-function-sources/{manifest[function.name]['source_object']}" in printed
        assert ("--add-volume=name=workspace" in printed) is (function.name in deploy.WORKSPACE_FUNCTIONS)
        # Startup CPU boost after every deploy (the deployment replaces the revision template).
        assert f"gcloud run services update {function.name}" in printed and "--cpu-boost" in printed


def test_cloudbuild_holds_no_secrets(cloudbuild: dict[str, Any], deploy_build: dict[str, Any]) -> None:
    for name, build in (("cloudbuild.yaml", cloudbuild), ("cloudbuild.deploy.yaml", deploy_build)):
        text = (ROOT / name).read_text()
        assert "availableSecrets" not in build and "secretEnv" not in text
        assert not re.search(r"(JWT_SECRET|PASSWORD|API_KEY|TOKEN)\s*[=:]", text, re.IGNORECASE)


# ------------------------------------------------------------------- first admin user


def test_grant_role_makes_the_first_admin(
    make_user: Any, auth_api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools import grant_role

    first = make_user("user")
    other = make_user("user")
    # A plain user may not change roles ...
    denied = auth_api.patch(f"/auth/users/{other.id}", token=first.token, json={"role": "moderator"})
    assert denied.status_code == 403
    # ... until the one-off bootstrap script makes them admin (tokens carry no stale role).
    grant_role.main([first.username, "admin"])
    assert f"{first.username} ({first.id}) is now admin" in capsys.readouterr().out
    assert auth_api.get("/auth/me", token=first.token).get_json()["role"] == "admin"
    allowed = auth_api.patch(f"/auth/users/{other.id}", token=first.token, json={"role": "moderator"})
    assert allowed.status_code == 200, allowed.get_json()
    assert allowed.get_json()["role"] == "moderator"
    with pytest.raises(SystemExit, match="no user named"):
        grant_role.grant_role("nobody-by-this-name", "admin")
