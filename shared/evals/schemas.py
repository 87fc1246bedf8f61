"""Eval schemas: ``EvalCreate`` (request), ``EvalPublic`` (what the API shows), records, results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.evals.evaluators import EvaluatorResult
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor

EvalStatus = Literal["running", "completed"]
MAX_REPEAT = 10


class EvalCreate(BaseModel):
    """``POST /evals``."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    agent_version: int | None = Field(default=None, ge=1, description="Default: the agent's current version.")
    dataset_id: str = Field(min_length=1, max_length=128)
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT, description="Runs per case.")
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=200, description="Or the Idempotency-Key header."
    )


class EvalCounts(BaseModel):
    total: int
    scored: int = 0
    passed: int = 0
    failed: int = 0
    errored: int = Field(default=0, description="Runs that did not succeed (scored as failed).")
    pending: int = 0


class EvalSummary(BaseModel):
    """Set when every case is scored."""

    pass_rate: float
    cases: int
    runs: int
    cost_usd: float = Field(description="Agent runs (the judge's calls are in judge_cost_usd).")
    cost_per_run_usd: float
    judge_cost_usd: float = 0.0
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    mean_score: float


class EvalPublic(BaseModel):
    id: str
    owner_id: str
    agent_id: str
    agent_version: int
    dataset_id: str
    dataset_name: str
    dataset_revision: int
    repeat: int
    status: EvalStatus
    counts: EvalCounts
    summary: EvalSummary | None = None
    batch_id: str
    listing_id: str | None = Field(default=None, description="Set for the service's verification evals.")
    created_at: datetime
    finished_at: datetime | None = None


class EvalRecord(BaseModel):
    """What ``evals/{id}`` stores (the id is also its batch's id)."""

    model_config = ConfigDict(extra="allow")

    id: str
    owner_id: str
    agent_id: str
    agent_version: int
    dataset_id: str
    dataset_name: str
    dataset_revision: int
    repeat: int = 1
    total: int
    case_names: list[str]
    status: EvalStatus = "running"
    scored: int = 0
    passed: int = 0
    errored: int = 0
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    summary: EvalSummary | None = None
    listing_id: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None

    def public(self) -> EvalPublic:
        counts = EvalCounts(
            total=self.total,
            scored=self.scored,
            passed=self.passed,
            failed=self.scored - self.passed,
            errored=self.errored,
            pending=max(0, self.total - self.scored),
        )
        data = {k: getattr(self, k) for k in EvalPublic.model_fields if k not in ("counts", "batch_id")}
        return EvalPublic.model_validate({**data, "counts": counts, "batch_id": self.id})


class CaseResult(BaseModel):
    """``evals/{id}/results/{run_id}``: one scored run of one case."""

    run_id: str
    case_index: int
    case_name: str
    repeat_index: int = 0
    run_status: str
    passed: bool
    score: float
    evaluators: list[EvaluatorResult]
    output: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float | None = None
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    scored_at: datetime


class EvalResultPage(BaseModel):
    items: list[CaseResult]
    next_cursor: str | None = None


class EvalPage(BaseModel):
    items: list[EvalPublic]
    next_cursor: str | None = None


class EvalListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=128)
    dataset_id: str | None = Field(default=None, min_length=1, max_length=128)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: Cursor | None = None


class EvalResultsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=300)


class CaseChange(BaseModel):
    case_name: str
    base_passed: bool | None
    head_passed: bool | None
    change: Literal["fixed", "regressed", "unchanged_pass", "unchanged_fail", "added", "removed"]
    base_score: float | None = None
    head_score: float | None = None
    cost_delta_usd: float | None = None
    latency_delta_ms: float | None = None


class EvalComparison(BaseModel):
    base: EvalPublic
    head: EvalPublic
    pass_rate_delta: float | None
    cost_per_run_delta_usd: float | None
    p50_latency_delta_ms: float | None
    p95_latency_delta_ms: float | None
    fixed: int
    regressed: int
    cases: list[CaseChange]


class VerifiedQuality(BaseModel):
    """What the service measured on one version; the listing shows its newest evaluated one."""

    pass_rate: float
    cases: int
    runs: int
    cost_per_run_usd: float
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    version: int
    eval_id: str
    dataset_id: str
    evaluated_at: datetime
