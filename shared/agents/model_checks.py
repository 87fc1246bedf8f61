"""Per-model checks of an agent's model settings, and the output-token limit they imply.

What a model takes comes from the catalog (``shared.agents.catalog``), never from the
provider alone: Claude 4.7+ takes no sampling settings, 4.5-generation Claude refuses
``temperature`` with ``top_p``, and thinking differs per model (docs/api-decisions/models.md).
"""

from __future__ import annotations

from shared.agents.catalog import ModelEntry
from shared.agents.definition import ModelRef

# Room for the answer itself in the default output-token limit.
ANSWER_ROOM_TOKENS = 8192
# Room for thinking at each effort (about the budget each maps to), and when a model thinks
# on its own (Gemini 2.5/3 count thoughts against maxOutputTokens).
EFFORT_ROOM_TOKENS = {"minimal": 1024, "low": 4096, "medium": 10_000, "high": 24_576}
DEFAULT_THINKING_ROOM_TOKENS = 8192
# Claude on Vertex streams by itself above this many output tokens; requests stay below it.
ANTHROPIC_MAX_NON_STREAMING_TOKENS = 21_333

FieldProblem = tuple[str, str, str]  # (loc, message, type)


def thinking_room(ref: ModelRef, info: ModelEntry) -> int:
    """Output tokens to leave for thinking under ``ref``'s thinking setting."""
    support = info.thinking
    if support is None:
        return 0
    thinking = ref.thinking
    if thinking is None:
        return DEFAULT_THINKING_ROOM_TOKENS if support.default_on else 0
    if thinking.budget_tokens is not None:
        return thinking.budget_tokens
    if thinking.effort == "off":
        return 0
    return EFFORT_ROOM_TOKENS.get(thinking.effort or "", DEFAULT_THINKING_ROOM_TOKENS)


def max_tokens_for(ref: ModelRef, info: ModelEntry) -> int:
    """The output-token limit every request is sent with: the agent's, else room for an answer
    plus its thinking, never above the model's maximum (and, for Claude, below the size the
    anthropic SDK only sends streamed: an agent's explicit ``max_tokens`` is sent as set)."""
    if ref.max_tokens is not None:
        return ref.max_tokens
    limit = min(info.max_output_tokens, ANSWER_ROOM_TOKENS + thinking_room(ref, info))
    if ref.provider == "vertex-anthropic":
        limit = min(limit, ANTHROPIC_MAX_NON_STREAMING_TOKENS)
    return limit


def model_setting_problems(ref: ModelRef, info: ModelEntry) -> list[FieldProblem]:
    """Why ``ref``'s sampling and thinking settings are not ones ``info``'s model accepts."""
    problems: list[FieldProblem] = []
    name = ref.name
    for setting in ("temperature", "top_p"):
        if getattr(ref, setting) is not None and setting not in info.sampling:
            problems.append((f"model.{setting}", f"model '{name}' takes no {setting}", "unsupported"))
    if ref.temperature is not None and ref.top_p is not None and info.sampling_exclusive:
        problems.append(
            ("model.top_p", f"model '{name}' takes temperature or top_p, not both", "unsupported")
        )
    thinking = ref.thinking
    if thinking is None:
        return problems
    support = info.thinking
    if support is None:
        return [*problems, ("model.thinking", f"model '{name}' does not think", "unsupported")]
    if thinking.effort == "off":
        if not support.can_disable:
            problems.append(
                ("model.thinking.effort", f"model '{name}' cannot turn thinking off", "unsupported")
            )
    elif thinking.effort is not None and thinking.effort not in support.efforts:
        problems.append(
            (
                "model.thinking.effort",
                f"model '{name}' takes effort {', '.join(support.efforts)} (or off)"
                if support.can_disable
                else f"model '{name}' takes effort {', '.join(support.efforts)}",
                "unsupported",
            )
        )
    budget = thinking.budget_tokens
    if budget is not None:
        if support.budget_min is None or support.budget_max is None:
            problems.append(
                (
                    "model.thinking.budget_tokens",
                    f"model '{name}' takes a thinking effort, not a budget",
                    "unsupported",
                )
            )
        elif not support.budget_min <= budget <= support.budget_max:
            problems.append(
                (
                    "model.thinking.budget_tokens",
                    f"must be between {support.budget_min} and {support.budget_max} for '{name}'",
                    "out_of_range",
                )
            )
        elif ref.provider == "vertex-anthropic" and budget >= max_tokens_for(ref, info):
            problems.append(
                (
                    "model.thinking.budget_tokens",
                    f"must be below the output-token limit ({max_tokens_for(ref, info)}): "
                    "raise model.max_tokens",
                    "less_than",
                )
            )
    thinks = thinking.effort != "off"
    if thinks and ref.provider == "vertex-anthropic":
        # Claude with thinking: temperature only 1, top_p at least 0.95.
        if ref.temperature is not None and ref.temperature != 1:
            problems.append(("model.temperature", "must be unset or 1 when Claude thinks", "unsupported"))
        if ref.top_p is not None and ref.top_p < 0.95:
            problems.append(
                ("model.top_p", "must be unset or at least 0.95 when Claude thinks", "unsupported")
            )
    return problems
