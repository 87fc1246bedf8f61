"""Gemini on Vertex (``generateContent`` / ``streamGenerateContent?alt=sse``) as the real API speaks it.

Shapes follow responses recorded from Vertex AI: ``usageMetadata`` with ``trafficType`` and
per-modality token details, ``thoughtsTokenCount``, ``thought: true`` parts, a
``thoughtSignature`` on the first function call of a turn only, ``functionCall.id``,
``avgLogprobs``, ``createTime``, ``finishMessage`` on abnormal stops, ``safetyRatings``,
``groundingMetadata`` on search turns. Streams repeat ``usageMetadata`` cumulatively on every
chunk (the figures can go down between chunks: the last chunk's are billed); a streamed
function call arrives in a chunk without ``finishReason``, followed by an empty-text ``STOP``
chunk. No-answer replies: ``SAFETY`` with no content, ``MODEL_ARMOR``, ``MAX_TOKENS`` with no
parts or cut text, ``promptFeedback.blockReason`` with no candidates.

Requests are checked like the real API checks them (``reject()``): unknown fields, thinking
settings the model does not take, out-of-range thinking budgets.
"""

from __future__ import annotations

import base64
from typing import Any

# Per model: thinking "budget" (min, max, can turn off) or "level" (accepted levels) or None.
THINKING: dict[str, tuple[str, Any]] = {
    "gemini-2.5-pro": ("budget", (128, 32768, False)),
    "gemini-2.5-flash": ("budget", (0, 24576, True)),
    "gemini-2.5-flash-lite": ("budget", (512, 24576, True)),
    "gemini-3.1-pro-preview": ("level", {"LOW", "MEDIUM", "HIGH"}),
}
LEVEL_MODELS_DEFAULT = {"MINIMAL", "LOW", "MEDIUM", "HIGH"}
NO_THINKING = ("gemini-2.0-flash", "gemini-2.0-flash-lite")

_TOP_LEVEL = {
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "labels",
    "cachedContent",
    "modelArmorConfig",
}
_GENERATION_CONFIG = {
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "thinkingConfig",
    "logprobs",
    "responseLogprobs",
    "mediaResolution",
    "audioTimestamp",
    "imageConfig",
    "speechConfig",
}
_THINKING_CONFIG = {"thinkingBudget", "thinkingLevel", "includeThoughts"}
SIGNATURE = base64.b64encode(b"fake-thought-signature").decode()


def error_body(code: int, message: str) -> dict[str, Any]:
    status = {
        400: "INVALID_ARGUMENT",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status}}


def _thinking_of(model: str) -> tuple[str, Any] | None:
    if model.startswith(NO_THINKING):
        return None
    if model in THINKING:
        return THINKING[model]
    if model.startswith("gemini-3"):
        return ("level", LEVEL_MODELS_DEFAULT)
    return ("budget", (0, 24576, True))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def camel_keys(value: Any) -> Any:
    """Protobuf JSON accepts a field's original snake_case name as well as its lowerCamelCase one."""
    if isinstance(value, dict):
        return {_camel(str(k)): camel_keys(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def reject(model: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The error the real API answers this request with, or None when it accepts it."""
    body = {_camel(k): v for k, v in body.items()}
    if isinstance(body.get("generationConfig"), dict):
        body["generationConfig"] = camel_keys(body["generationConfig"])
    unknown = sorted(set(body) - _TOP_LEVEL)
    if unknown:
        return 400, error_body(
            400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        )
    config: dict[str, Any] = body.get("generationConfig") or {}
    unknown = sorted(set(config) - _GENERATION_CONFIG)
    if unknown:
        return 400, error_body(
            400,
            f"Invalid JSON payload received. Unknown name \"{unknown[0]}\" at 'generation_config': "
            "Cannot find field.",
        )
    thinking: dict[str, Any] | None = config.get("thinkingConfig")
    if thinking is None:
        return None
    unknown = sorted(set(thinking) - _THINKING_CONFIG)
    if unknown:
        return 400, error_body(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}".')
    kind = _thinking_of(model)
    budget, level = thinking.get("thinkingBudget"), thinking.get("thinkingLevel")
    if kind is None and (budget or level or thinking.get("includeThoughts")):
        return 400, error_body(400, "Thinking is not supported for this model.")
    if budget is not None and level is not None:
        return 400, error_body(400, "thinking_budget and thinking_level are not supported together.")
    if kind is not None and kind[0] == "budget":
        if level is not None:
            return 400, error_body(400, "Thinking level is not supported for this model.")
        low, high, can_disable = kind[1]
        if budget is not None and budget != -1:
            if budget == 0 and not can_disable:
                return 400, error_body(400, "Budget 0 is invalid. This model only works in thinking mode.")
            if budget != 0 and not low <= budget <= high:
                return 400, error_body(
                    400,
                    f"The thinking budget {budget} is invalid. "
                    f"Please choose a value between {low} and {high}.",
                )
    if kind is not None and kind[0] == "level" and level is not None and str(level).upper() not in kind[1]:
        return 400, error_body(400, f"Thinking level {level} is not supported for this model.")
    return None


def _usage(prompt: int, candidates: int | None, thoughts: int = 0, *, final: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "totalTokenCount": prompt + (candidates or 0) + thoughts,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _call_parts(step: dict[str, Any], call_index: list[int]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for position, call in enumerate(tool_calls(step)):
        call_index[0] += 1
        part: dict[str, Any] = {
            "functionCall": {
                "id": f"call-{call_index[0]}",
                "name": call["name"],
                "args": call.get("args", {}),
            }
        }
        # On parallel calls only the first carries the turn's signature.
        if position == 0:
            part["thoughtSignature"] = SIGNATURE
        parts.append(part)
    return parts


def tool_calls(step: dict[str, Any]) -> list[dict[str, Any]]:
    if "tools" in step:
        return list(step["tools"])
    if "tool" in step:
        return [{"name": step["tool"], "args": step.get("args", {})}]
    return []


_FINISH = {"length": "MAX_TOKENS", "content_filter": "SAFETY", "armor": "MODEL_ARMOR", "stop": "STOP"}
_FINISH_MESSAGES = {
    "SAFETY": "The response was blocked because it contained unsafe content.",
    "MODEL_ARMOR": "The response was blocked by Model Armor.",
    "MAX_TOKENS": "The response reached the maximum output token limit.",
}


def _candidate(parts: list[dict[str, Any]] | None, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    candidate["content"] = {"role": "model", "parts": parts} if parts is not None else {"role": "model"}
    if finish is not None:
        candidate["finishReason"] = finish
        if finish in _FINISH_MESSAGES:
            candidate["finishMessage"] = _FINISH_MESSAGES[finish]
        if finish == "STOP":
            candidate["avgLogprobs"] = -0.0421
    if finish == "SAFETY":
        del candidate["content"]
        candidate["safetyRatings"] = [
            {
                "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                "probability": "HIGH",
                "probabilityScore": 0.93,
                "severity": "HARM_SEVERITY_HIGH",
                "severityScore": 0.88,
                "blocked": True,
            }
        ]
    return candidate


def grounding(step: dict[str, Any]) -> dict[str, Any]:
    """``groundingMetadata`` of a Google Search turn, as Vertex returns it on the candidate."""
    text = step.get("text", "")
    query = str(step.get("grounding") if isinstance(step.get("grounding"), str) else text)
    return {
        "webSearchQueries": [query],
        "searchEntryPoint": {"renderedContent": '<style>.container{}</style><div class="container"></div>'},
        "groundingChunks": [
            {
                "web": {
                    "uri": "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbF9wXfake",
                    "title": "example.org",
                    "domain": "example.org",
                }
            }
        ],
        "groundingSupports": [
            {
                "segment": {"endIndex": len(text.encode()), "text": text},
                "groundingChunkIndices": [0],
                "confidenceScores": [0.93],
            }
        ],
        "retrievalMetadata": {},
    }


def _envelope(model: str, candidates: list[dict[str, Any]] | None, usage: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if candidates is not None:
        body["candidates"] = candidates
    body.update(
        {
            "usageMetadata": usage,
            "modelVersion": model,
            "createTime": "2026-11-29T10:00:00.123456Z",
            "responseId": "fakeResp-" + model.replace(".", "-"),
        }
    )
    return body


def _step_usage(step: dict[str, Any]) -> tuple[int, int, int]:
    usage = step.get("usage", {})
    thoughts = int(usage.get("thoughts", 5 if step.get("thinking") else 0))
    return int(usage.get("input", 12)), int(usage.get("output", 7)), thoughts


def response(model: str, step: dict[str, Any], call_index: list[int]) -> dict[str, Any]:
    """A non-streamed ``generateContent`` reply for a scripted step."""
    prompt, output, thoughts = _step_usage(step)
    finish = step.get("finish")
    if finish == "blocked":
        return _envelope(
            model,
            None,
            _usage(prompt, None),
        ) | {
            "promptFeedback": {
                "blockReason": "PROHIBITED_CONTENT",
                "blockReasonMessage": "The prompt was blocked due to prohibited content.",
            }
        }
    wire_finish = _FINISH.get(finish or "stop", finish or "STOP")
    parts: list[dict[str, Any]] | None = []
    if step.get("thinking"):
        parts.append({"text": step["thinking"], "thought": True})
    if step.get("text"):
        parts.append({"text": step["text"]})
    parts.extend(_call_parts(step, call_index))
    if not tool_calls(step) and parts:
        # Without calls, the signature rides on the last part of the turn.
        parts[-1]["thoughtSignature"] = SIGNATURE
    if wire_finish in ("SAFETY", "MODEL_ARMOR") or (wire_finish == "MAX_TOKENS" and not step.get("text")):
        parts = None if wire_finish != "MAX_TOKENS" else [p for p in parts if p.get("thought")] or None
        output = 0
    candidate = _candidate(parts, wire_finish)
    if step.get("grounding"):
        candidate["groundingMetadata"] = grounding(step)
    return _envelope(model, [candidate], _usage(prompt, output or None, thoughts))


def stream(model: str, step: dict[str, Any], call_index: list[int]) -> list[dict[str, Any]]:
    """The ``streamGenerateContent`` chunks for a scripted step."""
    prompt, output, thoughts = _step_usage(step)
    finish = step.get("finish")
    if finish in ("blocked", "content_filter", "armor") or (finish == "length" and not step.get("text")):
        return [response(model, step, call_index)]
    wire_finish = _FINISH.get(finish or "stop", finish or "STOP")
    chunks: list[dict[str, Any]] = []
    if step.get("thinking"):
        chunks.append(
            _envelope(
                model,
                [_candidate([{"text": step["thinking"], "thought": True}], None)],
                _usage(prompt, None, thoughts),
            )
        )
    words = words_of(step.get("text", ""))
    calls = _call_parts(step, call_index)
    for index, word in enumerate(words):
        last = index == len(words) - 1 and not calls
        part: dict[str, Any] = {"text": word}
        if last:
            part["thoughtSignature"] = SIGNATURE
        # Cumulative usage; the first chunk's candidate count overshoots and comes down later.
        interim = output if last else (output + 2 if index == 0 else min(output, index + 1))
        chunks.append(
            _envelope(
                model,
                [_candidate([part], wire_finish if last else None)],
                _usage(prompt, interim, thoughts),
            )
        )
    if calls:
        # The call comes without a finishReason; an empty-text STOP chunk follows.
        chunks.append(_envelope(model, [_candidate(calls, None)], _usage(prompt, output + 3, thoughts)))
        chunks.append(
            _envelope(model, [_candidate([{"text": ""}], "STOP")], _usage(prompt, output, thoughts))
        )
    if not chunks:
        chunks.append(
            _envelope(model, [_candidate([{"text": ""}], wire_finish)], _usage(prompt, output, thoughts))
        )
    if step.get("grounding"):
        # The search metadata rides on the last chunk, with the finish reason.
        chunks[-1]["candidates"][0]["groundingMetadata"] = grounding(step)
    return chunks


def words_of(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split(" ") if text else []:
        out.append(word if not out else " " + word)
    return out
