"""Eval datasets (issue 20): CRUD, validation, and import/export in pydantic-evals' format.

The interchange is checked against the real ``pydantic-evals`` (2.62.0, which pins an older
pydantic-ai than ours, so it lives in its own environment: ``tools/evals_compat``).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ApiClient, TestUser
from tools.functions import ROOT

COMPAT_PYTHON = ROOT / "tools" / "evals_compat" / ".venv" / "bin" / "python"

ALL_EVALUATORS: list[dict[str, Any]] = [
    {"type": "equals", "value": "Paris"},
    {"type": "equals_expected", "name": "exact"},
    {"type": "contains", "value": "par", "case_sensitive": False},
    {"type": "regex", "pattern": "^P\\w+s$", "ignore_case": True},
    {"type": "is_instance", "type_name": "str"},
    {"type": "json_schema", "schema": {"type": "string", "minLength": 2}},
    {"type": "max_duration", "seconds": 30},
    {"type": "max_cost", "usd": 0.01},
    {"type": "tool_called", "tools": ["web_search"], "allow_extra": False},
    {"type": "llm_judge", "rubric": "Names the capital of France", "include_input": True},
]


def dataset_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "capitals",
        "cases": [
            {
                "name": "france",
                "input": "Capital of France?",
                "expected_output": "Paris",
                "metadata": {"lvl": 1},
            },
            {
                "name": "structured",
                "input": "Give a city as JSON",
                "expected_output": {"city": "Rome"},
                "evaluators": [{"type": "contains", "value": {"city": "Rome"}}],
            },
        ],
        "evaluators": ALL_EVALUATORS,
    }
    body.update(overrides)
    return body


def create_dataset(runs_api: ApiClient, user: TestUser, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = runs_api.post("/eval-datasets", token=user.token, json=body or dataset_body())
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_dataset_crud_and_privacy(runs_api: ApiClient, user: TestUser, other_user: TestUser) -> None:
    created = create_dataset(runs_api, user)
    assert created["case_count"] == 2 and created["revision"] == 1 and not created["public"]
    assert [
        {k: e[k] for k in want} for e, want in zip(created["evaluators"], ALL_EVALUATORS, strict=True)
    ] == (ALL_EVALUATORS)
    path = f"/eval-datasets/{created['id']}"
    assert runs_api.get(path, token=user.token).get_json()["cases"][1]["expected_output"] == {"city": "Rome"}
    assert runs_api.get(path, token=other_user.token).status_code == 404
    assert runs_api.get(path).status_code == 404
    listed = runs_api.get("/eval-datasets", token=user.token).get_json()
    assert [d["id"] for d in listed["items"]] == [created["id"]] and "cases" not in listed["items"][0]
    assert runs_api.get("/eval-datasets", token=other_user.token).get_json()["items"] == []
    patched = runs_api.patch(path, token=user.token, json={"name": "capitals v2", "evaluators": []})
    assert patched.status_code == 200 and patched.get_json()["revision"] == 2
    assert patched.get_json()["name"] == "capitals v2" and patched.get_json()["evaluators"] == []
    assert runs_api.patch(path, token=other_user.token, json={"name": "x"}).status_code == 404
    assert runs_api.delete(path, token=other_user.token).status_code == 404
    assert runs_api.delete(path, token=user.token).status_code == 204
    assert runs_api.get(path, token=user.token).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (dataset_body(cases=[]), "cases"),
        (dataset_body(evaluators=[{"type": "regex", "pattern": "("}]), "evaluators"),
        (dataset_body(evaluators=[{"type": "json_schema", "schema": {"type": "nope"}}]), "evaluators"),
        (dataset_body(evaluators=[{"type": "sentiment"}]), "evaluators"),
        (dataset_body(evaluators=[{"type": "max_duration", "seconds": -1}]), "evaluators"),
        (dataset_body(cases=[{"name": "a", "input": "x"}, {"name": "a", "input": "y"}]), "cases"),
        (dataset_body(cases=[{"name": "a", "input": "  "}]), "cases"),
    ],
)
def test_bad_datasets_are_rejected_and_store_nothing(
    runs_api: ApiClient, user: TestUser, body: dict[str, Any], where: str
) -> None:
    response = runs_api.post("/eval-datasets", token=user.token, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert where in json.dumps(response.get_json())
    assert runs_api.get("/eval-datasets", token=user.token).get_json()["items"] == []


def test_patch_rejects_nothing_or_null(runs_api: ApiClient, user: TestUser) -> None:
    path = f"/eval-datasets/{create_dataset(runs_api, user)['id']}"
    assert runs_api.patch(path, token=user.token, json={}).status_code == 422
    for field in ("name", "cases", "evaluators"):
        assert runs_api.patch(path, token=user.token, json={field: None}).status_code == 422
    assert runs_api.get(path, token=user.token).get_json()["revision"] == 1
    # A null description clears it (it was a 500 that left the dataset unreadable).
    runs_api.patch(path, token=user.token, json={"description": "d"})
    cleared = runs_api.patch(path, token=user.token, json={"description": None})
    assert cleared.status_code == 200 and cleared.get_json()["description"] == ""
    assert runs_api.get(path, token=user.token).get_json()["description"] == ""
    # ... and the schema says which nulls are refused (issue 21: exactly what the server enforces).
    from shared.evals.datasets import EvalDatasetUpdate

    schema = EvalDatasetUpdate.model_json_schema()
    assert schema["minProperties"] == 1
    nullable = {
        name for name, prop in schema["properties"].items() if {"type": "null"} in prop.get("anyOf", [])
    }
    assert nullable == {"description"}


# Values a Firestore document cannot hold natively (reserved ``__x__`` and empty keys, an array
# in an array, integers beyond 64 bits, deep nesting): valid JSON, so stored and given back as
# sent (they were 500s; shared/db_values.py).
_AWKWARD: list[Any] = [
    {"__main__": {"": 1, "~json": "x"}},
    [[1, 2], [], [[3]]],
    10**30,
    {"k" * 300: True},
    json.loads("[" * 30 + "1" + "]" * 30),
]


def test_any_json_value_is_stored_as_sent(runs_api: ApiClient, user: TestUser) -> None:
    cases = [
        {"name": f"c{i}", "input": "x", "expected_output": value, "metadata": {"__x__": value}}
        for i, value in enumerate(_AWKWARD)
    ]
    evaluators = [{"type": "equals", "value": value} for value in _AWKWARD]
    created = create_dataset(runs_api, user, dataset_body(cases=cases, evaluators=evaluators))
    path = f"/eval-datasets/{created['id']}"
    for read in (created, runs_api.get(path, token=user.token).get_json()):
        assert [c["expected_output"] for c in read["cases"]] == _AWKWARD
        assert [c["metadata"] for c in read["cases"]] == [{"__x__": v} for v in _AWKWARD]
        assert [e["value"] for e in read["evaluators"]] == _AWKWARD
    patched = runs_api.patch(path, token=user.token, json={"cases": cases[::-1]})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert [c["expected_output"] for c in runs_api.get(path, token=user.token).get_json()["cases"]] == (
        _AWKWARD[::-1]
    )


def _compat(script: str, workdir: Path) -> str:
    if not COMPAT_PYTHON.exists():
        pytest.fail("tools/evals_compat/.venv is missing: run `make install`")
    result = subprocess.run(
        [str(COMPAT_PYTHON), "-c", textwrap.dedent(script)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


_CUSTOM = (ROOT / "docs" / "evals_compat.py").read_text()


def test_export_loads_in_pydantic_evals_and_its_files_import_here(
    runs_api: ApiClient, user: TestUser, tmp_path: Path
) -> None:
    created = create_dataset(runs_api, user)
    exported = runs_api.get(f"/eval-datasets/{created['id']}/export", token=user.token)
    assert exported.status_code == 200
    yaml_export = runs_api.get(f"/eval-datasets/{created['id']}/export.yaml", token=user.token)
    assert yaml_export.status_code == 200 and yaml_export.content_type.startswith("application/yaml")
    assert yaml.safe_load(yaml_export.get_data(as_text=True)) == exported.get_json()
    (tmp_path / "ours.json").write_text(json.dumps(exported.get_json()))
    (tmp_path / "ours.yaml").write_text(yaml_export.get_data(as_text=True))
    (tmp_path / "evals_compat.py").write_text(_CUSTOM)
    # pydantic-evals reads both files, and writes its own from them (its evaluators, its YAML).
    out = _compat(
        """
        import json
        from typing import Any
        from pydantic_evals import Dataset
        from evals_compat import CUSTOM_EVALUATORS
        a = Dataset[Any, Any, Any].from_file('ours.json', custom_evaluator_types=CUSTOM_EVALUATORS)
        b = Dataset[Any, Any, Any].from_file('ours.yaml', custom_evaluator_types=CUSTOM_EVALUATORS)
        assert [c.name for c in a.cases] == [c.name for c in b.cases] == ['france', 'structured']
        a.to_file('theirs.yaml', custom_evaluator_types=CUSTOM_EVALUATORS)
        print(json.dumps({
            'evaluators': [type(e).__name__ for e in a.evaluators],
            'inputs': [c.inputs for c in a.cases],
            'expected': [c.expected_output for c in a.cases],
            'metadata': a.cases[0].metadata,
            'judge': a.evaluators[-1].rubric,
        }))
        """,
        tmp_path,
    )
    seen = json.loads(out)
    assert seen["evaluators"] == [
        "Equals", "EqualsExpected", "Contains", "Regex", "IsInstance", "JsonSchema",
        "MaxDuration", "MaxCost", "ToolCorrectness", "LLMJudge",
    ]  # fmt: skip
    assert seen["inputs"] == ["Capital of France?", "Give a city as JSON"]
    assert seen["expected"] == ["Paris", {"city": "Rome"}] and seen["metadata"] == {"lvl": 1}
    assert seen["judge"] == "Names the capital of France"
    # Their file comes back as the same dataset.
    theirs = (tmp_path / "theirs.yaml").read_text()
    assert theirs.startswith("# yaml-language-server: $schema=")
    imported = runs_api.post("/eval-datasets/import", token=user.token, json={"content": theirs})
    assert imported.status_code == 201, imported.get_data(as_text=True)
    body = imported.get_json()
    assert body["name"] == "capitals" and body["id"] != created["id"]
    for key in ("cases", "evaluators"):
        assert body[key] == created[key]


def test_import_a_dataset_written_by_pydantic_evals(
    runs_api: ApiClient, user: TestUser, tmp_path: Path
) -> None:
    _compat(
        """
        from pydantic_evals import Case, Dataset
        from pydantic_evals.evaluators import Contains, EqualsExpected, IsInstance, LLMJudge, MaxDuration
        ds = Dataset(
            name='support',
            cases=[
                Case(name='refund', inputs='I want a refund', expected_output='refund',
                     evaluators=[Contains('refund', case_sensitive=False)]),
                Case(name='greeting', inputs={'text': 'hi'}, metadata={'tier': 'free'}),
            ],
            evaluators=[EqualsExpected(), IsInstance(type_name='str'), MaxDuration(seconds=5),
                        LLMJudge(rubric='Polite and helpful', include_input=True)],
        )
        ds.to_file('support.json')
        """,
        tmp_path,
    )
    response = runs_api.post(
        "/eval-datasets/import", token=user.token, json={"content": (tmp_path / "support.json").read_text()}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["name"] == "support" and body["case_count"] == 2
    assert body["cases"][0]["evaluators"] == [
        {"name": None, "type": "contains", "value": "refund", "case_sensitive": False, "as_strings": False}
    ]
    assert body["cases"][1]["input"] == '{"text":"hi"}' and body["cases"][1]["metadata"] == {"tier": "free"}
    assert [e["type"] for e in body["evaluators"]] == [
        "equals_expected",
        "is_instance",
        "max_duration",
        "llm_judge",
    ]
    assert body["evaluators"][3]["rubric"] == "Polite and helpful" and body["evaluators"][3]["include_input"]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("cases: [", "content"),
        ("name: x", "cases"),
        ("cases:\n- inputs: hi\n  evaluators: [HasMatchingSpan]", "HasMatchingSpan"),
        ("cases:\n- inputs: hi\n  surprise: 1", "surprise"),
        ("cases:\n- inputs: hi\nevaluators:\n- Regex: '('", "regular expression"),
        # YAML that has no JSON form (these were 500s)
        ("?", "keys must be strings"),
        ("cases:\n- inputs: hi\n  metadata: {1: a}", "keys must be strings"),
        ("cases:\n- inputs: hi\n  expected_output: .nan", "finite"),
        ("cases:\n- inputs: hi\n  expected_output: !!binary aGk=", "JSON form"),
        ("cases: &a\n- inputs: *a", "too deeply"),
        (
            "x: &a [1, 1]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nw: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "v: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nu: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
            "too large",
        ),
    ],
)
def test_bad_imports_are_rejected(runs_api: ApiClient, user: TestUser, content: str, where: str) -> None:
    response = runs_api.post("/eval-datasets/import", token=user.token, json={"content": content})
    assert response.status_code == 422 and where in response.get_data(as_text=True)
    assert runs_api.get("/eval-datasets", token=user.token).get_json()["items"] == []
