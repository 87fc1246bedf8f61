"""The model catalog: data in ``models.json``, availability from settings.

``available`` is decided per provider (see docs/api-decisions/agents.md):
- ``MODEL_BACKEND=offline``: every catalogued model runs on the offline model → available;
- ``MODEL_BACKEND=vertex``: available when a real Google Cloud project is configured
  (``GOOGLE_CLOUD_PROJECT`` set and not a ``demo-*`` emulator-only id) and the provider's
  region is set (``VERTEX_LOCATION`` for Gemini, ``ANTHROPIC_VERTEX_REGION`` for Claude).
A model marked ``enabled: false`` in the data (retired) is never available (listed with
``retired: true``, refused at agent creation).

Prices are genai-prices' base-tier prices, copied into the data as a schedule (``prices``:
entries with the date they start, as genai-prices dates price changes); the entry in force
today is shown. ``tests/test_agents_catalog.py`` checks every entry against genai-prices and that
every current Gemini / Claude chat model genai-prices prices for Vertex is listed. (genai-prices
itself takes ~1.5 s to import: too slow for the agents function's cold start.)

Per model the data also says which sampling settings it takes (``sampling``; Claude 4.7+ takes
none, 4.5-generation models refuse ``temperature`` with ``top_p``: ``sampling_exclusive``) and
how it thinks (``thinking``: ``budget`` = a token budget, ``level`` = Gemini 3 thinking levels,
``adaptive`` = Claude adaptive thinking; the effort levels it accepts, its budget range and
whether thinking can be turned off). Agent definitions are validated against these.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.settings import Settings, get_settings

ProviderName = Literal["vertex-gemini", "vertex-anthropic"]
PROVIDERS: tuple[ProviderName, ...] = ("vertex-gemini", "vertex-anthropic")
_DATA = Path(__file__).with_name("models.json")


class PricesRef(BaseModel):
    """Where the prices came from in genai-prices (provider id, model id)."""

    provider: str
    model: str


class PriceEntry(BaseModel):
    """Base-tier prices (USD per million tokens) from a date on (``None`` = from the start)."""

    model_config = ConfigDict(extra="forbid")

    start: date | None = Field(default=None, alias="from")
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


ThinkingMode = Literal["budget", "level", "adaptive"]
ThinkingEffort = Literal["minimal", "low", "medium", "high"]


class ThinkingSupport(BaseModel):
    """How a model thinks, and what an agent's ``model.thinking`` may ask of it."""

    model_config = ConfigDict(extra="forbid")

    mode: ThinkingMode
    efforts: list[ThinkingEffort]
    budget_min: int | None = None
    budget_max: int | None = None
    can_disable: bool
    # Whether the model thinks when the request does not say (its thinking then needs room
    # in the output-token limit: Gemini 2.5/3 count thoughts against maxOutputTokens).
    default_on: bool


class ModelEntry(BaseModel):
    """One model as the data file describes it."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    name: str
    display_name: str
    vertex_model_id: str
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    supports_tools: bool = True
    supports_web_search: bool = False
    max_temperature: float = Field(default=2.0, gt=0)
    sampling: list[Literal["temperature", "top_p"]] = Field(default_factory=lambda: ["temperature", "top_p"])
    sampling_exclusive: bool = False
    thinking: ThinkingSupport | None = None
    prices_ref: PricesRef | None = None
    prices: list[PriceEntry] = Field(min_length=1)
    enabled: bool = True

    def prices_on(self, day: date) -> PriceEntry:
        """The price entry in force on ``day`` (the latest that started by then)."""
        started = [p for p in self.prices if p.start is None or p.start <= day]
        return max(started or self.prices[:1], key=lambda p: p.start or date.min)


class ModelInfo(ModelEntry):
    """A catalogued model with its current availability and today's prices."""

    available: bool
    input_price_per_mtok: float
    output_price_per_mtok: float

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """List-price cost of a request (base tier, no caching discounts)."""
        return (
            input_tokens * self.input_price_per_mtok + output_tokens * self.output_price_per_mtok
        ) / 1_000_000


class ModelPublic(BaseModel):
    """A model as ``GET /models`` shows it."""

    provider: ProviderName
    name: str
    display_name: str
    context_window: int
    max_output_tokens: int
    input_price_per_mtok: float
    output_price_per_mtok: float
    supports_web_search: bool
    available: bool
    supports_tools: bool = True
    # Sampling settings the model takes; exclusive = not temperature and top_p together.
    sampling: list[Literal["temperature", "top_p"]] = Field(default_factory=lambda: ["temperature", "top_p"])
    sampling_exclusive: bool = False
    # None = the model does not think (``model.thinking`` is refused).
    thinking: ThinkingSupport | None = None
    # A retired model: listed so existing agents explain themselves, never available.
    retired: bool = False

    @classmethod
    def of(cls, info: ModelInfo) -> ModelPublic:
        data = info.model_dump(include=set(cls.model_fields))
        data["retired"] = not info.enabled
        return cls.model_validate(data)


@functools.cache
def _entries() -> tuple[ModelEntry, ...]:
    raw = json.loads(_DATA.read_text(encoding="utf-8"))
    entries = tuple(ModelEntry.model_validate(item) for item in raw["models"])
    keys = [(e.provider, e.name) for e in entries]
    if len(set(keys)) != len(keys):
        raise RuntimeError("models.json lists a model twice")
    return entries


def catalog_entries() -> tuple[ModelEntry, ...]:
    """Every model the data file lists (retired ones included)."""
    return _entries()


def provider_available(provider: str, settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    if settings.model_backend == "offline":
        return provider in PROVIDERS
    project = settings.gcp_project.strip()
    if not project or project.startswith("demo-"):
        return False
    if provider == "vertex-gemini":
        return bool(settings.vertex_location)
    if provider == "vertex-anthropic":
        return bool(settings.anthropic_vertex_region)
    return False


def list_models() -> list[ModelInfo]:
    settings = get_settings()
    status = {p: provider_available(p, settings) for p in PROVIDERS}
    today = datetime.now(UTC).date()
    infos: list[ModelInfo] = []
    for entry in _entries():
        price = entry.prices_on(today)
        infos.append(
            ModelInfo(
                **entry.model_dump(by_alias=True),
                available=entry.enabled and status[entry.provider],
                input_price_per_mtok=price.input_per_mtok,
                output_price_per_mtok=price.output_per_mtok,
            )
        )
    return infos


def find_model(provider: str, name: str) -> ModelInfo | None:
    return next((m for m in list_models() if m.provider == provider and m.name == name), None)
