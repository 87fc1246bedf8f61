"""Property-based fuzzing of every operation in the generated OpenAPI document (issue 10).

Schemathesis generates requests from ``/openapi.json`` served by the live stack (real
function processes behind the gateway) and sends them as an authenticated user and as an
anonymous caller. Every response must be no 5xx and match what the document declares
(status code, content type, body schema). Bounded in the normal suite
(``--fuzz-examples``, default 8 per operation and caller); ``make fuzz`` runs 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import LiveStack, TestUser

pytestmark = pytest.mark.fuzz


def _operations(base_url: str) -> Any:
    import schemathesis

    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


@pytest.fixture
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--fuzz-examples"))


def test_openapi_document_is_served_and_lists_every_route(live_stack: LiveStack) -> None:
    from tools.functions import routers

    document = requests.get(f"{live_stack.base_url}/openapi.json", timeout=30).json()
    declared = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    for router in routers():
        for route in router.routes:
            assert (route.method, route.openapi_path) in declared, (route.method, route.path)


def test_fuzz_every_operation(
    live_stack: LiveStack, make_user: Callable[..., TestUser], env: Callable[..., None], fuzz_examples: int
) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    user = make_user()
    schema = _operations(live_stack.base_url)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    calls: dict[str, int] = {}
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document has no operations"
    for operation in operations:
        label = operation.label

        @settings(
            max_examples=fuzz_examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), authenticated=st.booleans())
        def run(case: Any, authenticated: bool) -> None:
            headers = {"Authorization": f"Bearer {user.token}"} if authenticated else {}
            calls[label] = calls.get(label, 0) + 1  # noqa: B023 - run() is called in this iteration
            response = case.call(base_url=live_stack.base_url, session=session, headers=headers, timeout=60)
            try:
                case.validate_response(response, checks=checks)
            except Exception as exc:  # report every operation's failure, not just the first
                detail = str(exc).strip().splitlines()[:6]
                failures.append(f"{label} ({'user' if authenticated else 'anonymous'}): {detail}")  # noqa: B023 - run() is called in this iteration
                raise

        seen = len(failures)
        try:
            run()
        except Exception as exc:  # check failures were collected above; keep fuzzing the rest
            if len(failures) == seen:
                failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:300]}")
        calls[operation.label] = calls.get(operation.label, 0)
    assert not failures, "\n".join(failures)
    # Every operation was actually exercised (a strategy that cannot generate would hide it).
    assert all(calls.get(op.label, 0) > 0 for op in operations), calls
