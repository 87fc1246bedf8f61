"""The OpenAPI document says exactly what the server enforces (issues 10 and 21).

The current schemathesis release runs as an outsider would — its own CLI, ``st run
<base>/openapi.json --checks all`` — against the live stack (every function as its own
process behind the gateway), once anonymous and once with a user's token. ``--checks all``
includes schema-valid requests that must be accepted, schema-violating ones that must be
rejected, undeclared methods (405 with ``Allow``), status codes, content types and response
schemas. Bounded in ``make test`` (``--fuzz-examples``, default 5 per operation, without
the slow coverage phase); ``make fuzz`` runs 100 per operation and every phase.

One check cannot hold by design, and only it is relaxed, only where it applies: a list
cursor has a declared shape (unpadded base64url, ``shared.pagination.CURSOR_PATTERN``) but
names a position in one listing, so a well-formed string we never issued is a 400
(docs/api-decisions/contract.md). Schema-valid requests to operations with such a cursor may
therefore be 400; every other check stays on there too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveStack, TestUser

pytestmark = pytest.mark.fuzz


@pytest.fixture
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--fuzz-examples"))


def _document(live_stack: LiveStack) -> dict[str, Any]:
    return requests.get(f"{live_stack.base_url}/openapi.json", timeout=30).json()


def test_openapi_document_is_served_and_lists_every_route(live_stack: LiveStack) -> None:
    from tools.functions import routers

    document = _document(live_stack)
    declared = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    for router in routers():
        for route in router.routes:
            assert (route.method, route.openapi_path) in declared, (route.method, route.path)


def cursor_operations(document: dict[str, Any]) -> list[str]:
    """Operations taking an opaque list cursor (the one by-design exception above)."""
    from shared.pagination import CURSOR_PATTERN

    return sorted(
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(
            p["in"] == "query" and p["name"] == "cursor" and CURSOR_PATTERN in str(p["schema"])
            for p in operation.get("parameters", [])
        )
    )


# schemathesis' defaults for the two data checks, plus 413: a body over the request-size
# limit (MAX_BODY_BYTES) is refused whatever its schema says, and JSON Schema cannot bound
# the encoded size of a body.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

# Schema-valid requests these operations may still refuse, by design: each rule depends on
# stored state or on a grammar JSON Schema cannot state (docs/api-decisions/contract.md,
# "Checks relaxed by design"). Only positive_data_acceptance is relaxed, only here.
SEMANTIC_REFUSALS: dict[str, tuple[str, ...]] = {
    # registry tools and their per-tool config, delegates that must exist and be yours,
    # output_schema a JSON Schema (meta-validated) of an object
    "POST /agents": ("422",),
    "PUT /agents/{agent_id}": ("422",),
    # agent_ids must name agents of yours
    "POST /auth/tokens": ("422",),
    # a body idempotency_key must equal the Idempotency-Key header (cross-field)
    "POST /runs": ("422",),
    "POST /batches": ("422",),
    "POST /evals": ("422",),
    # each tool_call_id decided once per request (uniqueness by a property)
    "POST /runs/{run_id}/approvals": ("422",),
    # the destination policy (https, no private/loopback/metadata address) is checked after DNS
    "POST /webhooks": ("422",),
    "PATCH /webhooks/{webhook_id}": ("422",),
    "POST /mcp-servers": ("422",),
    "PATCH /mcp-servers/{server_id}": ("422",),
    # the OAuth state must be one we issued and have not used (like a cursor)
    "GET /mcp-servers/oauth/callback": ("400",),
    # a search needs a word of 2+ letters or digits after Unicode normalisation (NFKD,
    # accents dropped): "Café" is a word, "é" or "!!" is none
    "GET /marketplace/listings": ("422",),
    # cron field ranges and IANA time-zone names
    "POST /schedules": ("422",),
    "PATCH /schedules/{schedule_id}": ("422",),
    # case names unique within a dataset; import parses a dataset file's text
    "POST /eval-datasets": ("422",),
    "PATCH /eval-datasets/{dataset_id}": ("422",),
    "POST /eval-datasets/import": ("422",),
    # bodies defined by other protocols and validated by their SDK / OpenAI's rules
    "POST /ag-ui/{agent_id}": ("400", "422"),
    "POST /mcp": ("400",),
    "POST /mcp/agents/{agent_id}": ("400",),
    "POST /v1/chat/completions": ("400",),
    "POST /v1/responses": ("400",),
}


# Schema-violating requests these operations accept, by design: a query string has no types,
# so an array of strings given the boolean ``false`` is on the wire the one-string list
# ``false`` (``?tags=false``), which is valid. Only negative_data_rejection is relaxed, only here.
WIRE_INDISTINGUISHABLE: dict[str, tuple[str, ...]] = {
    "GET /marketplace/listings": ("200",),
}


def schemathesis_config(document: dict[str, Any], path: Path, *, anonymous: bool = False) -> Path:
    operations = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}
    relaxed: dict[str, set[str]] = {name: {"400"} for name in cursor_operations(document)}
    for name, statuses in SEMANTIC_REFUSALS.items():
        if name in operations:
            relaxed.setdefault(name, set()).update(statuses)
    lines = []
    if anonymous:
        # schemathesis would otherwise register and log in by itself (auto-signup).
        lines += ["[auth]", "auto-signup = false", ""]
    lines += [
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {ACCEPTED}",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {REJECTED}",
        "",
    ]
    wire = {name: set(statuses) for name, statuses in WIRE_INDISTINGUISHABLE.items() if name in operations}
    for name in sorted(set(relaxed) | set(wire)):
        lines += ["[[operations]]", f'include-name = "{name}"']
        if name in relaxed:
            lines += [
                "[operations.checks.positive_data_acceptance]",
                f"expected-statuses = {sorted(set(ACCEPTED) | relaxed[name])}",
            ]
        if name in wire:
            lines += [
                "[operations.checks.negative_data_rejection]",
                f"expected-statuses = {sorted(set(REJECTED) | wire[name])}",
            ]
        lines.append("")
    path.write_text("\n".join(lines).replace("'", '"'))
    return path


FULL_RUN_EXAMPLES = 100  # `make fuzz`: every phase


def st_run(
    base_url: str, config: Path, examples: int, headers: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--workers",
        "2",
        "--seed",
        "21",
        "--no-shrink",
        "--request-timeout",
        "60",
        # The response-time check stays on with a generous limit: a loaded 2-core machine
        # running every function and the emulators is no place for latency figures
        # (bench/ measures those).
        "--max-response-time",
        "60",
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
    ]
    if examples < FULL_RUN_EXAMPLES:
        # The coverage phase (every boundary value of every parameter) is most of a run's
        # time: ~13 min per caller on a loaded 2-core machine. `make fuzz` runs it.
        command += ["--phases", "examples,fuzzing,stateful"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)


# Strict: both callers passed a full `make fuzz` (docs/api-decisions/contract.md, "Last runs").
@pytest.mark.parametrize("caller", ["anonymous", "user"])
def test_schemathesis_all_checks(
    live_stack: LiveStack,
    make_user: Callable[..., TestUser],
    env: Callable[..., None],
    fuzz_examples: int,
    tmp_path: Path,
    caller: str,
) -> None:
    document = _document(live_stack)
    assert cursor_operations(document), "no list operation declares the cursor pattern"
    # A full run outlasts the default 15-minute access token: every later request would be a
    # 401 and test nothing.
    env(ACCESS_TOKEN_TTL_SECONDS="7200")
    headers = {"Authorization": f"Bearer {make_user().token}"} if caller == "user" else {}
    config = schemathesis_config(document, tmp_path / "schemathesis.toml", anonymous=caller == "anonymous")
    result = st_run(live_stack.base_url, config, fuzz_examples, headers)
    output = result.stdout + result.stderr
    # The run really exercised every operation (a schema nothing can be generated for would hide).
    operations = sum(len(item) for item in document["paths"].values())
    assert f"{operations} selected / {operations} total" in output, output[-3000:]
    assert result.returncode == 0, output[-20000:]
