"""The model catalog: data in ``models.json``, availability from settings.

``available`` is decided per provider (see docs/api-decisions/agents.md):
- ``MODEL_BACKEND=offline``: every catalogued model runs on the offline model → available;
- ``MODEL_BACKEND=vertex``: available when a real Google Cloud project is configured
  (``GOOGLE_CLOUD_PROJECT`` set and not a ``demo-*`` emulator-only id) and the provider's
  region is set (``VERTEX_LOCATION`` for Gemini, ``ANTHROPIC_VERTEX_REGION`` for Claude).
A model marked ``enabled: false`` in the data (retired) is never available.
"""

from __future__ import annotations

import functools
import json
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


class ModelEntry(BaseModel):
    """One model as the data file describes it."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    name: str
    display_name: str
    vertex_model_id: str
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    input_price_per_mtok: float = Field(ge=0)
    output_price_per_mtok: float = Field(ge=0)
    supports_tools: bool = True
    supports_web_search: bool = False
    max_temperature: float = Field(default=2.0, gt=0)
    prices_ref: PricesRef | None = None
    enabled: bool = True


class ModelInfo(ModelEntry):
    """A catalogued model with its current availability."""

    available: bool

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

    @classmethod
    def of(cls, info: ModelInfo) -> ModelPublic:
        return cls.model_validate(info.model_dump(include=set(cls.model_fields)))


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
    return [
        ModelInfo(**entry.model_dump(), available=entry.enabled and status[entry.provider])
        for entry in _entries()
    ]


def find_model(provider: str, name: str) -> ModelInfo | None:
    return next((m for m in list_models() if m.provider == provider and m.name == name), None)
