"""Evaluators: what a dataset checks on each case's run, and the deterministic checks themselves.

Each evaluator is data (``{"type": "contains", "value": "Paris"}``) and scores one finished run
(:class:`CaseObservation`) into :class:`EvaluatorResult` — pass/fail, a score in [0, 1] and a
reason when it fails. Semantics follow pydantic-evals' evaluators of the same names (see
``docs/api-decisions/evals.md``); the LLM judge lives in ``shared.evals.judge``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = Field(default=None, min_length=1, max_length=100, description="Shown instead of the type.")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = _NAME

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "type", "evaluator"))


class EqualsEvaluator(_Base):
    """The output equals ``value``."""

    type: Literal["equals"]
    value: Any


class EqualsExpectedEvaluator(_Base):
    """The output equals the case's ``expected_output`` (passes when the case has none)."""

    type: Literal["equals_expected"]


class ContainsEvaluator(_Base):
    """Substring of a text output, member of a list, or key/value subset of an object."""

    type: Literal["contains"]
    value: Any
    case_sensitive: bool = True
    as_strings: bool = False


class RegexEvaluator(_Base):
    """``re.search(pattern, output)`` on the text output (structured output: its JSON)."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=1000)
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc.msg}") from None
        return value


class IsInstanceEvaluator(_Base):
    """The output's JSON type: str, int, float, bool, list, dict or NoneType."""

    type: Literal["is_instance"]
    type_name: Literal["str", "int", "float", "bool", "list", "dict", "NoneType"]


class JsonSchemaEvaluator(_Base):
    """The (structured) output validates against a JSON Schema (Draft 2020-12)."""

    type: Literal["json_schema"]
    json_schema: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        return value


class MaxDurationEvaluator(_Base):
    """The run took at most ``seconds`` (started → finished)."""

    type: Literal["max_duration"]
    seconds: float = Field(gt=0, le=86_400)


class MaxCostEvaluator(_Base):
    """The run cost at most ``usd``."""

    type: Literal["max_cost"]
    usd: float = Field(ge=0)


class ToolCalledEvaluator(_Base):
    """Every tool in ``tools`` was called (``allow_extra: false``: and no other tool)."""

    type: Literal["tool_called"]
    tools: list[str] = Field(min_length=1, max_length=50)
    allow_extra: bool = True


class LLMJudgeEvaluator(_Base):
    """A catalog model grades the output against a rubric (pass/fail, score, reason)."""

    type: Literal["llm_judge"]
    rubric: str = Field(min_length=1, max_length=10_000)
    model: str | None = Field(
        default=None,
        max_length=200,
        description="A catalog model as '<provider>:<name>'; default vertex-gemini:gemini-2.5-flash.",
    )
    include_input: bool = False
    include_expected_output: bool = False

    @field_validator("model")
    @classmethod
    def _catalog_model(cls, value: str | None) -> str | None:
        from shared.evals.judge import check_model

        return None if value is None else check_model(value)


Evaluator = Annotated[
    EqualsEvaluator
    | EqualsExpectedEvaluator
    | ContainsEvaluator
    | RegexEvaluator
    | IsInstanceEvaluator
    | JsonSchemaEvaluator
    | MaxDurationEvaluator
    | MaxCostEvaluator
    | ToolCalledEvaluator
    | LLMJudgeEvaluator,
    Field(discriminator="type"),
]
MAX_EVALUATORS = 20


class EvaluatorResult(BaseModel):
    name: str
    type: str
    passed: bool
    score: float = Field(ge=0, le=1)
    reason: str | None = None


@dataclass
class CaseObservation:
    """What the evaluators see of one case's run."""

    input: Any
    output: Any
    expected_output: Any = None
    has_expected_output: bool = False
    status: str = "succeeded"
    duration_seconds: float | None = None
    cost_usd: float | None = None
    tools_called: list[str] = field(default_factory=list[str])


def _truncated(value: Any, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _result(
    ev: _Base, passed: bool, reason: str | None = None, score: float | None = None
) -> EvaluatorResult:
    return EvaluatorResult(
        name=ev.label,
        type=str(getattr(ev, "type", "")),
        passed=passed,
        score=score if score is not None else (1.0 if passed else 0.0),
        reason=None if passed else reason,
    )


def _contains(ev: ContainsEvaluator, output: Any) -> str | None:
    """The failure reason, or None when the output contains the value (pydantic-evals' rules)."""
    if ev.as_strings or (isinstance(ev.value, str) and isinstance(output, str)):
        haystack, needle = str(output), str(ev.value)
        if not ev.case_sensitive:
            haystack, needle = haystack.lower(), needle.lower()
        if needle not in haystack:
            return (
                f"Output string {_truncated(haystack)} does not contain expected string {_truncated(needle)}"
            )
        return None
    value: Any = ev.value
    if isinstance(output, dict):
        if isinstance(value, dict):
            expected_items = cast(dict[Any, Any], value)
            for key, expected in expected_items.items():
                if key not in output:
                    return f"Output does not contain expected key {_truncated(key, 30)}"
                if output[key] != expected:
                    return (
                        f"Output has different value for key {_truncated(key, 30)}: "
                        f"{_truncated(output[key])} != {_truncated(expected)}"
                    )
            return None
        if ev.value not in output:
            return f"Output {_truncated(output, 200)} does not contain provided value as a key"
        return None
    try:
        if ev.value not in output:
            return f"Output {_truncated(output, 200)} does not contain provided value"
    except TypeError as exc:
        return f"Containment check failed: {exc}"
    return None


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "NoneType": (type(None),),
}


def _is_instance(type_name: str, output: Any) -> bool:
    if type_name == "int" and isinstance(output, bool):
        return False  # bool is an int subclass in Python, not in JSON
    return isinstance(output, _JSON_TYPES[type_name])


def evaluate(ev: Any, obs: CaseObservation) -> EvaluatorResult:
    """Score one deterministic evaluator (everything but ``llm_judge``)."""
    output = obs.output
    if isinstance(ev, EqualsEvaluator):
        return _result(ev, output == ev.value, f"output {_truncated(output)} != {_truncated(ev.value)}")
    if isinstance(ev, EqualsExpectedEvaluator):
        if not obs.has_expected_output:
            return _result(ev, True)
        return _result(ev, output == obs.expected_output, f"output {_truncated(output)} != expected output")
    if isinstance(ev, ContainsEvaluator):
        reason = _contains(ev, output)
        return _result(ev, reason is None, reason)
    if isinstance(ev, RegexEvaluator):
        flags = re.IGNORECASE if ev.ignore_case else 0
        found = output is not None and re.search(ev.pattern, _as_text(output), flags) is not None
        return _result(ev, found, f"output does not match /{ev.pattern}/")
    if isinstance(ev, IsInstanceEvaluator):
        return _result(ev, _is_instance(ev.type_name, output), f"output is of type {type(output).__name__}")
    if isinstance(ev, JsonSchemaEvaluator):
        from jsonschema import Draft202012Validator

        validator: Any = Draft202012Validator(ev.json_schema)
        errors: list[Any] = sorted(validator.iter_errors(output), key=lambda e: list(e.path))
        where = "/".join(str(p) for p in errors[0].path) if errors else ""
        return _result(ev, not errors, f"{where or '(root)'}: {errors[0].message}" if errors else None)
    if isinstance(ev, MaxDurationEvaluator):
        took = obs.duration_seconds
        return _result(
            ev,
            took is not None and took <= ev.seconds,
            f"took {took if took is not None else '?'} s > {ev.seconds} s",
        )
    if isinstance(ev, MaxCostEvaluator):
        cost = obs.cost_usd
        return _result(ev, cost is not None and cost <= ev.usd, f"cost ${cost} > ${ev.usd}")
    if isinstance(ev, ToolCalledEvaluator):
        called = set(obs.tools_called)
        missing = [t for t in ev.tools if t not in called]
        extra = sorted(called - set(ev.tools)) if not ev.allow_extra else []
        reason = "; ".join(
            part
            for part in (
                f"not called: {', '.join(missing)}" if missing else "",
                f"unexpected: {', '.join(extra)}" if extra else "",
            )
            if part
        )
        return _result(ev, not missing and not extra, reason)
    raise TypeError(f"not a deterministic evaluator: {type(ev).__name__}")
