"""pydantic-evals versions of the service's evaluators that pydantic-evals has no built-in for.

Load an exported dataset locally with
``Dataset.from_file("dataset.yaml", custom_evaluator_types=CUSTOM_EVALUATORS)``.
The service scores these the same way (see docs/api-decisions/evals.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic_evals.evaluators import EvaluationReason, Evaluator, EvaluatorContext


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(repr=False)
class Regex(Evaluator[object, object, object]):
    pattern: str
    ignore_case: bool = False
    evaluation_name: str | None = field(default=None)

    def evaluate(self, ctx: EvaluatorContext[object, object, object]) -> EvaluationReason:
        flags = re.IGNORECASE if self.ignore_case else 0
        ok = ctx.output is not None and re.search(self.pattern, _text(ctx.output), flags) is not None
        return EvaluationReason(value=ok, reason=None if ok else f"output does not match /{self.pattern}/")


@dataclass(repr=False)
class JsonSchema(Evaluator[object, object, object]):
    schema: dict[str, Any]
    evaluation_name: str | None = field(default=None)

    def evaluate(self, ctx: EvaluatorContext[object, object, object]) -> EvaluationReason:
        import jsonschema

        errors = list(jsonschema.Draft202012Validator(self.schema).iter_errors(ctx.output))
        return EvaluationReason(value=not errors, reason=errors[0].message if errors else None)


@dataclass(repr=False)
class MaxCost(Evaluator[object, object, object]):
    """Needs the task to report ``cost_usd`` as a metric (``increment_eval_metric``)."""

    usd: float
    evaluation_name: str | None = field(default=None)

    def evaluate(self, ctx: EvaluatorContext[object, object, object]) -> bool:
        cost = ctx.metrics.get("cost_usd")
        return cost is not None and cost <= self.usd


CUSTOM_EVALUATORS = [Regex, JsonSchema, MaxCost]
