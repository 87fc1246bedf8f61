"""The LLM judge: a catalog model grades a case's output against a rubric.

It runs through the same model factory as agents (Vertex with ADC; the offline model under
``MODEL_BACKEND=offline``, where it is deterministic: the verdict is the offline model's
answer to the judge prompt — a rubric may carry an offline ``output {...}`` directive).
The candidate's output is quoted as one JSON line so nothing in it reads as a directive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from shared.evals.evaluators import EvaluatorResult, LLMJudgeEvaluator

DEFAULT_JUDGE_MODEL = "vertex-gemini:gemini-2.5-flash"
_INSTRUCTIONS = (
    "You grade the output of an AI agent against a rubric. Answer with `passed` (does the output "
    "satisfy the rubric?), `score` from 0 to 1 and a one-sentence `reason`."
)


class Verdict(BaseModel):
    passed: bool
    score: float = Field(ge=0, le=1)
    reason: str = Field(max_length=2000)


@dataclass
class Judged:
    result: EvaluatorResult
    cost_usd: float


def model_ref(model: str | None) -> Any:
    from shared.agents.definition import ModelRef

    provider, _, name = (model or DEFAULT_JUDGE_MODEL).partition(":")
    return ModelRef.model_validate({"provider": provider, "name": name, "temperature": 0.0})


def check_model(model: str) -> str:
    """A judge model is ``<provider>:<name>`` from the model catalog."""
    from shared.agents.catalog import find_model

    provider, sep, name = model.partition(":")
    if not sep or find_model(provider, name) is None:
        raise ValueError("model must be a catalog model as '<provider>:<name>', e.g. " + DEFAULT_JUDGE_MODEL)
    return model


def _prompt(ev: LLMJudgeEvaluator, output: Any, case_input: Any, expected: Any) -> str:
    lines = [f"Rubric:\n{ev.rubric}", "", f"Agent output (JSON): {json.dumps(output, ensure_ascii=False)}"]
    if ev.include_input:
        lines.append(f"Agent input (JSON): {json.dumps(case_input, ensure_ascii=False)}")
    if ev.include_expected_output:
        lines.append(f"Expected output (JSON): {json.dumps(expected, ensure_ascii=False)}")
    return "\n".join(lines)


async def judge(ev: LLMJudgeEvaluator, output: Any, case_input: Any, expected: Any) -> Judged:
    """Ask the judge model; a malformed verdict is retried by pydantic-ai (output retries)."""
    from pydantic_ai import Agent

    from shared.execution.models import model_for, model_settings_for, pricing_for

    ref = model_ref(ev.model)
    agent: Agent[None, Verdict] = Agent(
        model_for(ref), output_type=Verdict, instructions=_INSTRUCTIONS, retries={"output": 2}
    )
    result = await agent.run(
        _prompt(ev, output, case_input, expected), model_settings=model_settings_for(ref)
    )
    verdict = result.output
    usage = result.usage
    pricing = pricing_for(ref)
    cost = (
        usage.input_tokens * (pricing.input_per_mtok or 0.0)
        + usage.output_tokens * (pricing.output_per_mtok or 0.0)
    ) / 1e6
    return Judged(
        EvaluatorResult(
            name=ev.label,
            type="llm_judge",
            passed=verdict.passed,
            score=verdict.score,
            reason=verdict.reason or None,
        ),
        cost_usd=round(cost, 8),
    )
