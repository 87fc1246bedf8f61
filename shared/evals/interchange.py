"""pydantic-evals' dataset file format (YAML/JSON) ↔ our datasets.

Their file: ``{name?, cases: [{name?, inputs, metadata?, expected_output?, evaluators?}],
evaluators?, report_evaluators?}``; an evaluator is ``'Name'``, ``{'Name': first_arg}`` or
``{'Name': {kwargs}}`` (``pydantic_ai._spec.NamedSpec``). The mapping is in
``docs/api-decisions/evals.md``.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from shared.errors import ValidationFailed
from shared.evals.evaluators import Evaluator

# theirs -> (our type, {their kwarg: our field}, name of their first positional argument)
_IMPORTS: dict[str, tuple[str, dict[str, str], str | None]] = {
    "Equals": ("equals", {"value": "value"}, "value"),
    "EqualsExpected": ("equals_expected", {}, None),
    "Contains": (
        "contains",
        {"value": "value", "case_sensitive": "case_sensitive", "as_strings": "as_strings"},
        "value",
    ),
    "IsInstance": ("is_instance", {"type_name": "type_name"}, "type_name"),
    "MaxDuration": ("max_duration", {"seconds": "seconds"}, "seconds"),
    "LLMJudge": (
        "llm_judge",
        {
            "rubric": "rubric",
            "model": "model",
            "include_input": "include_input",
            "include_expected_output": "include_expected_output",
        },
        "rubric",
    ),
    "ToolCorrectness": (
        "tool_called",
        {"expected_tools": "tools", "allow_extra": "allow_extra"},
        "expected_tools",
    ),
    "Regex": ("regex", {"pattern": "pattern", "ignore_case": "ignore_case"}, "pattern"),
    "JsonSchema": ("json_schema", {"schema": "schema"}, "schema"),
    "MaxCost": ("max_cost", {"usd": "usd"}, "usd"),
}
_EXPORTS = {our: (their, {v: k for k, v in fields.items()}) for their, (our, fields, _) in _IMPORTS.items()}
# Their evaluators with no `evaluation_name` field.
_UNNAMED = {"MaxDuration", "LLMJudge"}
_evaluator_adapter: TypeAdapter[Any] = TypeAdapter(Evaluator)


def evaluator_from_spec(spec: Any, loc: str) -> dict[str, Any]:
    """One pydantic-evals evaluator spec → our evaluator (as a dict), or 422 naming it."""
    if isinstance(spec, str):
        their, args = spec, None
    elif isinstance(spec, dict) and len(cast(dict[str, Any], spec)) == 1:
        their, args = next(iter(cast(dict[str, Any], spec).items()))
    else:
        raise ValidationFailed.field(loc, "an evaluator is 'Name', {Name: argument} or {Name: {arguments}}")
    known = _IMPORTS.get(str(their))
    if known is None:
        raise ValidationFailed.field(
            loc, f"evaluator '{their}' is not supported here; supported: {', '.join(sorted(_IMPORTS))}"
        )
    our_type, fields, first = known
    kwargs: dict[str, Any]
    if args is None:
        kwargs = {}
    elif isinstance(args, dict) and (
        first is None or set(cast(dict[str, Any], args)) <= {*fields, "evaluation_name"}
    ):
        kwargs = dict(cast(dict[str, Any], args))
    elif first is not None:
        kwargs = {first: args}
    elif isinstance(args, str):
        kwargs = {"evaluation_name": args}  # their only positional field
    else:
        raise ValidationFailed.field(loc, f"evaluator '{their}' takes only a name")
    ours: dict[str, Any] = {"type": our_type}
    if their == "ToolCorrectness":
        ours["allow_extra"] = False  # their default (ours is True)
    for key, value in kwargs.items():
        if key == "evaluation_name":
            if value is not None:
                ours["name"] = value
        elif key in fields:
            if not (key == "model" and value is None):
                ours[fields[key]] = value
        else:
            raise ValidationFailed.field(loc, f"evaluator '{their}' has no argument '{key}' supported here")
    if our_type == "max_duration" and isinstance(ours.get("seconds"), dict):
        raise ValidationFailed.field(loc, "MaxDuration seconds must be a number")
    try:
        return _evaluator_adapter.validate_python(ours).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    except ValidationError as exc:
        first_error = exc.errors()[0]
        raise ValidationFailed.field(loc, f"evaluator '{their}': {first_error['msg']}") from None


def evaluator_to_spec(evaluator: dict[str, Any]) -> Any:
    """Our evaluator (as stored) → pydantic-evals' short or kwargs form."""
    their, fields = _EXPORTS[str(evaluator["type"])]
    kwargs = {fields[k]: v for k, v in evaluator.items() if k in fields}
    if evaluator.get("name") and their not in _UNNAMED:
        kwargs["evaluation_name"] = evaluator["name"]
    return {their: kwargs} if kwargs else their


def _inputs_to_input(value: Any, loc: str) -> Any:
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(p, dict) and cast(dict[str, Any], p).get("type") in ("text", "image")
            for p in cast(list[Any], value)
        )
    ):
        return cast(list[Any], value)  # our own multi-part input, exported as is
    if isinstance(value, str):
        if not value.strip():
            raise ValidationFailed.field(loc, "inputs must not be empty")
        return value
    if value is None:
        raise ValidationFailed.field(loc, "inputs is required")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dataset_from_document(document: Any) -> dict[str, Any]:
    """A parsed pydantic-evals dataset file → the fields of ``EvalDatasetCreate`` (unvalidated)."""
    if not isinstance(document, dict):
        raise ValidationFailed.field("content", "a pydantic-evals dataset is a mapping with 'cases'")
    doc = cast(dict[str, Any], document)
    unknown = set(doc) - {"$schema", "name", "cases", "evaluators", "report_evaluators"}
    if unknown:
        raise ValidationFailed.field("content", f"unknown dataset keys: {', '.join(sorted(unknown))}")
    if doc.get("report_evaluators"):
        raise ValidationFailed.field("content.report_evaluators", "report evaluators are not supported here")
    cases_in = doc.get("cases")
    if not isinstance(cases_in, list) or not cases_in:
        raise ValidationFailed.field("content.cases", "at least one case is required")
    cases: list[dict[str, Any]] = []
    for index, raw in enumerate(cast(list[Any], cases_in)):
        loc = f"content.cases.{index}"
        if not isinstance(raw, dict):
            raise ValidationFailed.field(loc, "a case is a mapping")
        case_doc = cast(dict[str, Any], raw)
        extra = set(case_doc) - {"name", "inputs", "metadata", "expected_output", "evaluators"}
        if extra:
            raise ValidationFailed.field(loc, f"unknown case keys: {', '.join(sorted(extra))}")
        case: dict[str, Any] = {
            "name": case_doc.get("name") or f"Case {index + 1}",
            "input": _inputs_to_input(case_doc.get("inputs"), f"{loc}.inputs"),
            "evaluators": [
                evaluator_from_spec(spec, f"{loc}.evaluators.{i}")
                for i, spec in enumerate(cast(list[Any], case_doc.get("evaluators") or []))
            ],
        }
        if "expected_output" in case_doc and case_doc["expected_output"] is not None:
            case["expected_output"] = case_doc["expected_output"]
        if case_doc.get("metadata") is not None:
            case["metadata"] = case_doc["metadata"]
        cases.append(case)
    return {
        "name": doc.get("name") or "imported dataset",
        "cases": cases,
        "evaluators": [
            evaluator_from_spec(spec, f"content.evaluators.{i}")
            for i, spec in enumerate(cast(list[Any], doc.get("evaluators") or []))
        ],
    }


def dataset_to_document(
    name: str, cases: list[dict[str, Any]], evaluators: list[dict[str, Any]]
) -> dict[str, Any]:
    """Our dataset → a pydantic-evals dataset document (what ``Dataset.to_file`` writes)."""
    out_cases: list[dict[str, Any]] = []
    for case in cases:
        item: dict[str, Any] = {"name": case["name"], "inputs": case["input"]}
        if case.get("metadata") is not None:
            item["metadata"] = case["metadata"]
        if "expected_output" in case and case["expected_output"] is not None:
            item["expected_output"] = case["expected_output"]
        case_evaluators: list[dict[str, Any]] = case.get("evaluators") or []
        item["evaluators"] = [evaluator_to_spec(e) for e in case_evaluators]
        out_cases.append(item)
    return {
        "name": name,
        "cases": out_cases,
        "evaluators": [evaluator_to_spec(e) for e in evaluators],
        "report_evaluators": [],
    }


# What a parsed file may hold, like a JSON body: nesting and (with YAML aliases, which share
# nodes) the number of nodes visited are bounded, so an alias bomb or a recursive alias is a 422.
_MAX_DEPTH = 64
_MAX_NODES = 200_000


def _as_json(value: Any, depth: int, budget: list[int]) -> Any:
    """A YAML value as the JSON it must be: string keys, finite numbers, dates as ISO text."""
    budget[0] -= 1
    if depth > _MAX_DEPTH or budget[0] < 0:
        raise ValidationFailed.field("content", "the file is nested too deeply or too large")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ValidationFailed.field("content", "numbers must be finite (no .nan or .inf)")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, list):
        return [_as_json(item, depth + 1, budget) for item in cast(list[Any], value)]
    if isinstance(value, dict):
        mapping = cast(dict[Any, Any], value)
        if not all(isinstance(key, str) for key in mapping):
            raise ValidationFailed.field("content", "mapping keys must be strings")
        return {key: _as_json(item, depth + 1, budget) for key, item in mapping.items()}
    raise ValidationFailed.field("content", f"a YAML {type(value).__name__} has no JSON form")


def parse_content(content: str) -> Any:
    """YAML (a superset of JSON) → JSON-compatible Python, or 422."""
    import yaml

    try:
        document = yaml.safe_load(content)
    except (yaml.YAMLError, RecursionError):
        raise ValidationFailed.field("content", "not valid YAML or JSON") from None
    return _as_json(document, 1, [_MAX_NODES])


def render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
