"""Request bodies of the OpenAI-compatible API: exactly the parameters that map.

Any other parameter is refused (400 ``unsupported_parameter``, see ``UNSUPPORTED``), never
silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Parameters OpenAI defines that cannot map onto an agent run, with the reason a client sees.
UNSUPPORTED: dict[str, str] = {
    "tools": "client-side function tools are not supported: the agent's own tools run on the server",
    "tool_choice": "the agent decides which of its tools to call",
    "parallel_tool_calls": "the agent decides which of its tools to call",
    "functions": "client-side function tools are not supported",
    "function_call": "client-side function tools are not supported",
    "n": "only one choice per request (n = 1)",
    "logprobs": "log probabilities are not available",
    "top_logprobs": "log probabilities are not available",
    "logit_bias": "logit bias is not supported",
    "temperature": "sampling settings are part of the agent's definition",
    "top_p": "sampling settings are part of the agent's definition",
    "presence_penalty": "sampling settings are part of the agent's definition",
    "frequency_penalty": "sampling settings are part of the agent's definition",
    "seed": "sampling settings are part of the agent's definition",
    "stop": "stop sequences are part of the agent's definition",
    "max_tokens": "output limits are part of the agent's definition",
    "max_completion_tokens": "output limits are part of the agent's definition",
    "max_output_tokens": "output limits are part of the agent's definition",
    "max_tool_calls": "tool-call limits are part of the agent's definition",
    "reasoning_effort": "reasoning settings are part of the agent's definition",
    "reasoning": "reasoning settings are part of the agent's definition",
    "modalities": "only text output is supported",
    "audio": "only text output is supported",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "web search is a tool of the agent's definition",
    "service_tier": "service tiers are not supported",
    "background": "background responses are not supported: use POST /runs with mode async",
    "include": "extra output data is not supported",
    "truncation": "truncation is not supported",
    "prompt": "prompt templates are not supported: the agent is the prompt",
    "prompt_cache_key": "prompt caching keys are not supported",
    "safety_identifier": "safety identifiers are not supported",
    "user": "end-user identifiers are not supported",
    "metadata": "metadata is not supported",
    "verbosity": "verbosity is part of the agent's definition",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResponseFormat(_Strict):
    """``response_format`` (Chat Completions) / ``text.format`` (Responses)."""

    type: Literal["text", "json_object", "json_schema"]
    # Chat Completions nests the schema in ``json_schema``; Responses puts it in the format.
    json_schema: dict[str, Any] | None = None
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class StreamOptions(_Strict):
    include_usage: bool = False
    include_obfuscation: bool | None = None


class ChatCompletionCreate(_Strict):
    """``POST /v1/chat/completions``."""

    model: str = Field(min_length=1, max_length=200, description="an agent's name (or id)")
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None


class TextConfig(_Strict):
    format: ResponseFormat | None = None


class ConversationRef(_Strict):
    id: str = Field(min_length=1, max_length=128)


class ResponseCreate(_Strict):
    """``POST /v1/responses``."""

    model: str = Field(min_length=1, max_length=200, description="an agent's name (or id)")
    input: str | list[dict[str, Any]] = Field(description="a prompt, or a list of input items")
    instructions: str | None = Field(default=None, max_length=100_000)
    previous_response_id: str | None = Field(default=None, min_length=1, max_length=200)
    conversation: str | ConversationRef | None = None
    stream: bool = False
    store: bool = True
    text: TextConfig | None = None
    stream_options: StreamOptions | None = None


class ModelObject(BaseModel):
    """One runnable agent as an OpenAI model (``id`` = the agent's name, or its id where two
    of the caller's agents share a name)."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]
