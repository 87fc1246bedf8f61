"""The marketplace API's schema families: listings, ratings, bundles, categories."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.agents.definition import AgentDefinition, AgentName
from shared.evals.schemas import VerifiedQuality
from shared.marketplace.categories import CATEGORY_IDS
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor

MAX_TAGS = 10
MAX_SUMMARY = 280
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
SortOrder = Literal["rating", "installs", "recent", "verified"]
CATEGORY_SCHEMA: dict[str, Any] = {"enum": sorted(CATEGORY_IDS)}
# What the schema promises for each tag (normalisation also trims and lower-cases).
TAGS_SCHEMA: dict[str, Any] = {"items": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9-]{0,29}$"}}


def _check_category(value: str) -> str:
    if value not in CATEGORY_IDS:
        raise ValueError(f"unknown category; one of: {', '.join(sorted(CATEGORY_IDS))}")
    return value


def _normalize_tags(values: list[str]) -> list[str]:
    tags: list[str] = []
    for raw in values:
        tag = raw.strip().lower()
        if not TAG_PATTERN.match(tag):
            raise ValueError("tags are 1-30 characters: a-z, 0-9 and '-', starting with a letter or digit")
        tags.append(tag)
    return list(dict.fromkeys(tags))


# -- listings ------------------------------------------------------------------------------


class ListingCreate(BaseModel):
    """``POST /marketplace/listings``: publish (or republish) an agent's current version."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    category: str = Field(json_schema_extra=CATEGORY_SCHEMA)
    tags: list[str] = Field(default_factory=list[str], max_length=MAX_TAGS, json_schema_extra=TAGS_SCHEMA)
    summary: str | None = Field(default=None, max_length=MAX_SUMMARY)
    eval_dataset_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="One of my eval datasets: published with the listing; the service evaluates every "
        "published version with it (`verified`). Omitted on republish: the listing keeps its dataset.",
    )

    _category = field_validator("category")(_check_category)
    _tags = field_validator("tags")(_normalize_tags)


class ListingStats(BaseModel):
    """Usage and ratings; averages are null until there is something to average."""

    rating_avg: float | None = None
    rating_count: int = 0
    installs: int = 0
    runs: int = 0
    success_rate: float | None = None
    p50_latency_ms: float | None = None
    avg_cost_usd: float | None = None


class ListingRecord(BaseModel):
    """What ``listings/{id}`` stores (search fields and denormalised sort keys included)."""

    id: str
    agent_id: str
    owner_id: str
    owner_username: str
    name: str
    display_name: str | None = None
    description: str = ""
    summary: str = ""
    category: str
    tags: list[str] = Field(default_factory=list[str])
    version: int
    definition: AgentDefinition
    published_at: datetime
    updated_at: datetime
    search_keys: list[str] = Field(default_factory=list[str])
    deleted: bool = False
    removed_by_moderation: bool = False
    # Denormalised from the stat shards so search can sort and show them without more reads.
    rating_avg: float = 0.0
    rating_count: int = 0
    installs: int = 0
    stats: ListingStats = Field(default_factory=ListingStats)
    eval_dataset_id: str | None = None
    # Written only by shared.evals.verified when a verification eval completes.
    verified: VerifiedQuality | None = None
    verified_pass_rate: float = -1.0
    # The MCP servers the snapshot uses (URLs and tool schemas, never credentials).
    mcp_servers: list[ManifestMcpServer] = Field(default_factory=list["ManifestMcpServer"])


class ListingPublic(BaseModel):
    """A listing as search shows it: ``stats`` as last folded into the listing document."""

    id: str
    agent_id: str
    owner_id: str
    owner_username: str
    name: str
    display_name: str | None
    description: str
    summary: str
    category: str
    tags: list[str]
    version: int
    published_at: datetime
    updated_at: datetime
    stats: ListingStats
    eval_dataset_id: str | None = None
    verified: VerifiedQuality | None = Field(
        default=None,
        description="Measured by the service on `verified.version`; null until an eval completed.",
    )

    @classmethod
    def of(cls, record: ListingRecord, stats: ListingStats | None = None) -> ListingPublic:
        data = record.model_dump(include=set(cls.model_fields) - {"stats"})
        return cls.model_validate({**data, "stats": stats or record.stats})


class ListingDetail(ListingPublic):
    """``GET /marketplace/listings/{id}``: with the definition snapshot and exact stats."""

    definition: dict[str, Any]

    @classmethod
    def detail(cls, record: ListingRecord, stats: ListingStats) -> ListingDetail:
        base = ListingPublic.of(record, stats).model_dump()
        return cls.model_validate({**base, "definition": record.definition.model_dump(mode="json")})


class ListingPage(BaseModel):
    items: list[ListingPublic]
    next_cursor: str | None = None


class InstallQuery(BaseModel):
    """``POST /marketplace/listings/{id}/install`` parameters."""

    model_config = ConfigDict(extra="forbid")

    name: AgentName | None = Field(
        default=None,
        description="install another copy under this name (without it, a reinstall returns my copy)",
    )


class ListingQuery(BaseModel):
    """``GET /marketplace/listings`` parameters."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS, json_schema_extra=TAGS_SCHEMA)
    category: str | None = Field(default=None, json_schema_extra=CATEGORY_SCHEMA)
    sort: SortOrder = "recent"
    min_pass_rate: float | None = Field(
        default=None, ge=0, le=1, description="Only verified listings at least this good."
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: Cursor | None = None

    @field_validator("category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        return None if value is None else _check_category(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return _normalize_tags(value) or None


# -- ratings -------------------------------------------------------------------------------


class RatingPut(BaseModel):
    """``PUT /marketplace/listings/{id}/ratings/me``."""

    model_config = ConfigDict(extra="forbid")

    stars: int = Field(ge=1, le=5)
    review: str | None = Field(default=None, max_length=4000)


class RatingPublic(BaseModel):
    listing_id: str
    user_id: str
    username: str
    stars: int
    review: str | None = None
    created_at: datetime
    updated_at: datetime


class RatingPage(BaseModel):
    items: list[RatingPublic]
    next_cursor: str | None = None


# -- bundles and categories ------------------------------------------------------------------


class ManifestTool(BaseModel):
    name: str
    category: str
    requires_approval: bool


class ManifestMcpTool(BaseModel):
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict[str, Any])


class ManifestMcpServer(BaseModel):
    """A remote MCP server the agent uses: where it is and which tools (never credentials).
    Installing asks the installer to connect it with their own credential."""

    server_id: str = Field(description="the id the definition's `mcp_servers` entry names")
    name: str
    url: str
    auth_type: Literal["none", "bearer", "oauth"]
    tools: list[ManifestMcpTool] = Field(default_factory=list[ManifestMcpTool])


class Manifest(BaseModel):
    """What an agent asks for: its tools and the permissions they imply."""

    tools: list[ManifestTool]
    permissions: list[str]
    model: str | None
    mcp_servers: list[ManifestMcpServer] = Field(default_factory=list[ManifestMcpServer])


class ListingVersionPublic(BaseModel):
    """One published version of a listing, with the service's eval of it (if any)."""

    version: int
    published_at: datetime
    verified: VerifiedQuality | None = None


class BundleListing(BaseModel):
    id: str
    agent_id: str
    owner_username: str
    name: str
    display_name: str | None
    summary: str
    category: str
    tags: list[str]
    version: int
    published_at: datetime
    updated_at: datetime


class Bundle(BaseModel):
    """``GET /marketplace/listings/{id}/download``; ``definition`` is accepted by ``POST /agents``."""

    format: Literal["agents-service.bundle/v1"] = "agents-service.bundle/v1"
    definition: dict[str, Any]
    manifest: Manifest
    listing: BundleListing
    sha256: str


class CategoryPublic(BaseModel):
    id: str
    name: str
    description: str
    count: int
