"""Model and provider factory: Gemini and Claude on Vertex AI (ADC), or the offline model.

Providers and models are cached per instance: they hold HTTP clients, which stay valid
because every run executes on the one ``shared.aio`` event loop. Anthropic is imported only
when a Claude agent runs (it is slow to import).

``VERTEX_BASE_URL`` / ``ANTHROPIC_VERTEX_BASE_URL`` point the providers at another endpoint
(a proxy, or the wire-format fake the tests use); with a base URL set and no ADC wanted,
placeholder credentials are sent (the endpoint is expected to authenticate on its own).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.settings import get_settings

if TYPE_CHECKING:
    from pydantic_ai.models import Model
    from pydantic_ai.settings import ModelSettings

    from shared.agents.definition import ModelRef

DEFAULT_MAX_TOKENS = 8192  # for models outside the catalog
# The Vertex API version of Claude's Messages API the service is built against. The anthropic
# SDK otherwise fills in its own default (2026-10-21), which removed temperature/top_p/top_k:
# pinning keeps the agent's sampling settings valid (docs/api-decisions/models.md).
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


@dataclass(frozen=True)
class ModelPricing:
    input_per_mtok: float | None
    output_per_mtok: float | None
    default_max_tokens: int
    vertex_model_id: str


def pricing_for(ref: ModelRef) -> ModelPricing:
    """Catalog facts for a model reference (prices, max tokens, Vertex id); defaults if unknown."""
    from shared.agents.catalog import find_model
    from shared.agents.model_checks import max_tokens_for

    info = find_model(ref.provider, ref.name)
    if info is None:
        return ModelPricing(None, None, DEFAULT_MAX_TOKENS, ref.name)
    return ModelPricing(
        input_per_mtok=info.input_price_per_mtok,
        output_per_mtok=info.output_price_per_mtok,
        default_max_tokens=max_tokens_for(ref.model_copy(update={"max_tokens": None}), info),
        vertex_model_id=info.vertex_model_id,
    )


def model_settings_for(ref: ModelRef) -> ModelSettings:
    """Per-request settings: ``max_tokens`` is always sent (room for thinking included);
    sampling and thinking as the agent sets them; retries and timeouts from settings."""
    settings = get_settings()
    pricing = pricing_for(ref)
    max_tokens = ref.max_tokens or pricing.default_max_tokens
    result: dict[str, Any] = {
        "max_tokens": max_tokens,
        "timeout": settings.model_request_timeout_seconds,
        "max_retries": settings.model_max_retries,
    }
    if ref.provider == "vertex-anthropic":
        # An agent's own max_tokens is sent as set: the per-attempt timeout given here keeps the
        # anthropic SDK from refusing a large one unstreamed (docs/api-decisions/models.md).
        result["extra_body"] = {"anthropic_version": VERTEX_ANTHROPIC_VERSION}
    if ref.temperature is not None:
        result["temperature"] = ref.temperature
    if ref.top_p is not None:
        result["top_p"] = ref.top_p
    result.update(thinking_settings(ref))
    return result  # type: ignore[return-value]  # ModelSettings is a TypedDict


def thinking_settings(ref: ModelRef) -> dict[str, Any]:
    """``model.thinking`` as pydantic-ai settings: an effort through its unified ``thinking``
    setting (Gemini budget or level, Claude budget or adaptive effort, per model), a budget as
    Gemini's ``thinkingBudget`` or Claude's extended-thinking ``budget_tokens``."""
    thinking = ref.thinking
    if thinking is None:
        return {}
    if thinking.budget_tokens is not None:
        if ref.provider == "vertex-anthropic":
            return {"anthropic_thinking": {"type": "enabled", "budget_tokens": thinking.budget_tokens}}
        return {
            "google_thinking_config": {"thinking_budget": thinking.budget_tokens, "include_thoughts": True}
        }
    return {"thinking": False if thinking.effort == "off" else thinking.effort}


def model_for(ref: ModelRef) -> Model:
    """The pydantic-ai model for ``ref`` under the configured backend (cached)."""
    settings = get_settings()
    if settings.model_backend == "offline":
        pricing = pricing_for(ref)
        return _offline_model(ref.name, pricing.input_per_mtok, pricing.output_per_mtok)
    model_id = pricing_for(ref).vertex_model_id
    if ref.provider == "vertex-anthropic":
        return _anthropic_model(
            model_id,
            _ProviderKey(
                settings.gcp_project,
                settings.anthropic_vertex_region,
                settings.anthropic_vertex_base_url,
                settings.model_max_retries,
                settings.model_retry_initial_delay_seconds,
            ),
        )
    return _gemini_model(
        model_id,
        _ProviderKey(
            settings.gcp_project,
            settings.vertex_location,
            settings.vertex_base_url,
            settings.model_max_retries,
            settings.model_retry_initial_delay_seconds,
        ),
    )


@dataclass(frozen=True)
class _ProviderKey:
    """Everything a cached provider depends on (a settings change makes a new one)."""

    project: str
    location: str
    base_url: str | None
    max_retries: int
    retry_initial_delay: float


@functools.cache
def _offline_model(name: str, input_price: float | None, output_price: float | None) -> Model:
    from shared.execution.offline import OfflineModel

    return OfflineModel(name, input_price_per_mtok=input_price, output_price_per_mtok=output_price)


@functools.cache
def _google_provider(key: _ProviderKey) -> Any:
    from google.genai.types import HttpRetryOptions
    from pydantic_ai.providers.google_cloud import GoogleCloudProvider

    retry = HttpRetryOptions(
        attempts=key.max_retries + 1,
        initial_delay=key.retry_initial_delay,
        max_delay=max(key.retry_initial_delay * 8, 0.01),
        http_status_codes=[408, 429, 500, 502, 503, 504],
    )
    if key.base_url:
        from google.oauth2.credentials import Credentials

        return GoogleCloudProvider(
            project=key.project,
            location=key.location,
            credentials=Credentials(token="offline-placeholder"),  # type: ignore[no-untyped-call]
            base_url=key.base_url,
            retry_options=retry,
        )
    # project and location always given: ADC is then resolved lazily, on the first request.
    return GoogleCloudProvider(project=key.project, location=key.location, retry_options=retry)


@functools.cache
def _gemini_model(model_id: str, key: _ProviderKey) -> Model:
    from pydantic_ai.models.google import GoogleModel

    return GoogleModel(model_id, provider=_google_provider(key))


@functools.cache
def _anthropic_provider(key: _ProviderKey) -> Any:
    from anthropic.lib.vertex import AsyncAnthropicVertex
    from pydantic_ai.providers.anthropic import AnthropicProvider

    kwargs: dict[str, Any] = {
        "region": key.location,
        "project_id": key.project,
        "max_retries": key.max_retries,
    }
    if key.base_url:
        kwargs["base_url"] = key.base_url
        kwargs["access_token"] = "offline-placeholder"
    return AnthropicProvider(anthropic_client=AsyncAnthropicVertex(**kwargs))


@functools.cache
def _anthropic_model(model_id: str, key: _ProviderKey) -> Model:
    from pydantic_ai.models.anthropic import AnthropicModel

    return AnthropicModel(model_id, provider=_anthropic_provider(key))


def reset_models() -> None:
    """Forget cached providers and models (tests change settings between cases)."""
    for cached in (_offline_model, _google_provider, _gemini_model, _anthropic_provider, _anthropic_model):
        cached.cache_clear()
