"""Claude on Vertex (``rawPredict`` / ``streamRawPredict``) as the real API speaks it.

Replies name the dated model (``claude-sonnet-4-5-20250929``, what gets priced), give every
tool call its own id, put text before ``tool_use`` blocks, and stream like the API does:
``message_start``, ``ping``, an empty ``input_json_delta`` opening each tool input whose JSON
then arrives split at arbitrary points, ``thinking_delta`` / ``signature_delta`` for thinking
blocks, and a ``message_delta`` whose usage repeats ``input_tokens``.

Requests are checked like the real API checks them (``reject()``): the ``anthropic_version``
(the SDK's default ``2026-10-21`` removed ``temperature``/``top_p``/``top_k``; Vertex's
``vertex-2023-10-16`` keeps them), models that take no sampling settings, 4.5-generation
models that refuse ``temperature`` with ``top_p``, thinking settings and their limits,
unknown fields.
"""

from __future__ import annotations

import json
from typing import Any

VERTEX_VERSION = "vertex-2023-10-16"
SDK_VERSION = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")
# Models that take no sampling settings at all, and that think adaptively only.
NO_SAMPLING = ("claude-fable-5", "claude-mythos-5", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5",
               "claude-sonnet-5", "claude-haiku-5-5")  # fmt: skip
ADAPTIVE = (*NO_SAMPLING, "claude-sonnet-4-6", "claude-opus-4-6")
# Models that refuse temperature and top_p in one request.
EXCLUSIVE_SAMPLING = ("claude-opus-4-1", "claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5",
                      "claude-opus-4-6", "claude-sonnet-4-6")  # fmt: skip
_FIELDS = {
    "anthropic_version", "messages", "max_tokens", "system", "tools", "tool_choice", "temperature", "top_p",
    "top_k", "stop_sequences", "stream", "thinking", "metadata", "output_config", "output_format",
    "container", "context_management", "mcp_servers", "service_tier", "cache_control",
}  # fmt: skip


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_vrtx_fake01"}


def _invalid(message: str) -> tuple[int, dict[str, Any]]:
    return 400, error_body("invalid_request_error", message)


def reject(model: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The error the real API answers this request with, or None when it accepts it."""
    version = body.get("anthropic_version")
    if version not in (VERTEX_VERSION, SDK_VERSION):
        return _invalid(f"anthropic_version: invalid value {version!r}")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        return _invalid(f"{unknown[0]}: Extra inputs are not permitted")
    if "model" in body:
        return _invalid("model: Extra inputs are not permitted")
    if not isinstance(body.get("max_tokens"), int):
        return _invalid("max_tokens: Field required")
    sampling = [name for name in _SAMPLING if name in body]
    if sampling and version == SDK_VERSION:
        return _invalid(f"{sampling[0]}: this parameter was removed in anthropic_version {SDK_VERSION}")
    if sampling and model.startswith(NO_SAMPLING):
        return _invalid(f"{sampling[0]}: is not supported for this model")
    if "temperature" in body and "top_p" in body and model.startswith(EXCLUSIVE_SAMPLING):
        return _invalid(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
        )
    thinking: dict[str, Any] | None = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type")
        if kind == "enabled":
            if model.startswith(NO_SAMPLING):
                return _invalid(
                    "thinking.type.enabled: not supported for this model; use thinking.type.adaptive"
                )
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < 1024:
                return _invalid(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                )
            if budget >= body["max_tokens"]:
                return _invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
        elif kind == "adaptive":
            if not model.startswith(ADAPTIVE):
                return _invalid("thinking.type: adaptive thinking is not supported for this model")
        elif kind != "disabled":
            return _invalid(f"thinking.type: invalid value {kind!r}")
        if kind in ("enabled", "adaptive"):
            if body.get("temperature", 1) != 1:
                return _invalid("`temperature` may only be set to 1 when thinking is enabled.")
            if body.get("top_p", 1) < 0.95:
                return _invalid(
                    "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
                )
            if "top_k" in body:
                return _invalid("`top_k` must be unset when thinking is enabled.")
    return None


def dated(vertex_model: str) -> str:
    """The model name replies carry: ``claude-sonnet-4-5@20250929`` → ``claude-sonnet-4-5-20250929``."""
    return vertex_model.replace("@", "-")


def tool_calls(step: dict[str, Any]) -> list[dict[str, Any]]:
    if "tools" in step:
        return list(step["tools"])
    if "tool" in step:
        return [{"name": step["tool"], "args": step.get("args", {})}]
    return []


_STOP = {"length": "max_tokens", "content_filter": "refusal", "stop": "end_turn"}


def _stop_reason(step: dict[str, Any]) -> str:
    finish = step.get("finish")
    if finish:
        return _STOP.get(finish, finish)
    return "tool_use" if tool_calls(step) else "end_turn"


def _usage(step: dict[str, Any]) -> dict[str, int]:
    usage = step.get("usage", {})
    return {
        "input_tokens": int(usage.get("input", 12)),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": int(usage.get("output", 7)),
    }


def _blocks(step: dict[str, Any], call_index: list[int]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if step.get("thinking"):
        blocks.append({"type": "thinking", "thinking": step["thinking"], "signature": "EqQBCkYIBxgCKkDfake"})
    if step.get("text"):
        blocks.append({"type": "text", "text": step["text"]})
    for call in tool_calls(step):
        call_index[0] += 1
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_vrtx_{call_index[0]:02d}fake",
                "name": call["name"],
                "input": call.get("args", {}),
            }
        )
    return blocks


def message(model: str, step: dict[str, Any], call_index: list[int]) -> dict[str, Any]:
    return {
        "id": "msg_vrtx_01fake",
        "type": "message",
        "role": "assistant",
        "model": dated(model),
        "content": _blocks(step, call_index),
        "stop_reason": _stop_reason(step),
        "stop_sequence": None,
        "usage": _usage(step),
    }


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream(model: str, step: dict[str, Any], call_index: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """The named SSE events of a ``streamRawPredict`` reply."""
    final = message(model, step, call_index)
    usage = final["usage"]
    start = {**final, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(final["content"]):
        if block["type"] == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": piece} for piece in _split(block["thinking"], 12)
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif block["type"] == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _words(block["text"])]
        else:
            opening = {**block, "input": {}}
            # An empty delta first, then the JSON cut at arbitrary points (mid-token).
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in _split(json.dumps(block["input"]), 7)
            ]
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        )
        events.extend(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            for delta in deltas
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        if index == 0:
            events.append(("ping", {"type": "ping"}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": final["stop_reason"], "stop_sequence": None},
                # The final usage repeats input_tokens (not an increment).
                "usage": usage,
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _words(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split(" "):
        out.append(word if not out else " " + word)
    return out
