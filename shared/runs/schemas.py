"""Run schemas: ``RunCreate`` (request), ``RunPublic`` (what the API shows), ``RunRecord`` (stored)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.agents.definition import AgentDefinition, Limits
from shared.pagination import Cursor

RunMode = Literal["sync", "stream", "async"]
# Which front door started a run: the REST API (and its clients), an MCP client (`/mcp`) or an
# A2A client (`/a2a`).
RunSource = Literal["api", "mcp", "a2a", "replay", "fork"]
RunStatus = Literal["queued", "running", "requires_action", "succeeded", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
# One set for Gemini and Claude: pydantic-ai's normalised finish reasons.
FinishReason = Literal["stop", "length", "content_filter", "tool_call", "error"]
ImageMimeType = Literal["image/png", "image/jpeg", "image/webp", "image/gif", "image/heic", "image/heif"]
MAX_TEXT_CHARS = 200_000


class TextInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class ImageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["image"]
    mime_type: ImageMimeType
    data: str = Field(
        min_length=4,
        description="base64-encoded image bytes",
        json_schema_extra={"pattern": r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"},
    )

    @field_validator("data")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data must be base64") from None
        return value


InputPart = Annotated[TextInput | ImageInput, Field(discriminator="type")]
MAX_INPUT_PARTS = 32
# A prompt with something other than whitespace in it, or 1 to 32 parts (what the validators
# below enforce, declared so the schema says it too).
TextPrompt = Annotated[
    str, Field(json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT_CHARS, "pattern": r"\S"})
]
InputParts = Annotated[list[InputPart], Field(json_schema_extra={"minItems": 1, "maxItems": MAX_INPUT_PARTS})]
RunInput = TextPrompt | InputParts


class RunCreate(BaseModel):
    """``POST /runs``."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    input: RunInput = Field(
        description="A prompt, or a list of text/image parts.",
    )
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    mode: RunMode = "sync"
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    limits: Limits | None = Field(default=None, description="May only tighten the agent's own limits.")
    draft: AgentDefinition | None = Field(
        default=None,
        description=(
            "Try an unsaved definition of `agent_id` (the builder's playground): validated as "
            "`PUT /agents/{id}` would, run as it is, never stored as a version. Sync and stream "
            "runs without a session only."
        ),
    )

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("input must not be empty")
            if len(value) > MAX_TEXT_CHARS:
                raise ValueError(f"input is longer than {MAX_TEXT_CHARS} characters")
        elif not value:
            raise ValueError("input must have at least one part")
        elif len(value) > 32:
            raise ValueError("input has more than 32 parts")
        return value


class RunUsage(BaseModel):
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    # Included in output_tokens (and priced as output): tokens the model spent thinking, where
    # the provider reports them separately (Gemini thoughtsTokenCount).
    thinking_tokens: int = 0


class RunErrorInfo(BaseModel):
    code: str
    message: str


class ApprovalItem(BaseModel):
    """A tool call waiting for a human decision."""

    tool_call_id: str
    tool_name: str
    args: Any = None
    args_sha256: str = Field(description="sha256 of the canonical JSON of args; send it with the decision")
    requested_at: datetime
    expires_at: datetime
    agent_id: str = Field(description="The agent whose model asked for the call (the run's or a delegate's)")
    agent_name: str | None = None


class RequiredAction(BaseModel):
    type: Literal["tool_approval"] = "tool_approval"
    items: list[ApprovalItem]


class ApprovalDecisionRecord(BaseModel):
    """A decision as recorded on the run (and in its ``approval.decided`` event)."""

    tool_call_id: str
    tool_name: str
    approve: bool
    args_sha256: str
    reason: str | None = None
    decided_by: str
    decided_at: datetime


class ReplayDivergence(BaseModel):
    """Where a replay first differed from its recording."""

    step: int = Field(description="The model request (0-based) at which it happened.")
    message_index: int = Field(description="The index in the recorded run's messages.")
    reason: Literal[
        "request_changed",
        "instructions_changed",
        "tool_missing",
        "tool_result_missing",
        "extra_model_request",
        "ended_early",
        "outcome_changed",
        "output_changed",
    ]
    detail: str
    expected: Any = None
    actual: Any = None


class ReplayReport(BaseModel):
    """What a replay found: whether everything matched, else the first divergence."""

    source_run_id: str
    matched: bool
    steps_replayed: int = Field(description="Model responses played back.")
    steps_recorded: int
    tool_results_replayed: int
    divergence: ReplayDivergence | None = None


class RunReplayCreate(BaseModel):
    """``POST /runs/{id}/replay``."""

    model_config = ConfigDict(extra="forbid")

    mode: RunMode = "sync"
    agent_version: int | None = Field(
        default=None, ge=1, description="Replay on another version of the agent (default: the run's own)."
    )


class RunForkCreate(BaseModel):
    """``POST /runs/{id}/fork``."""

    model_config = ConfigDict(extra="forbid")

    at: int = Field(
        ge=0,
        le=100_000,
        description="Index of a model request in the run's messages (GET /runs/{id}/messages): the fork "
        "keeps the messages before it and sends that request again (with `input` as its prompt).",
    )
    input: RunInput | None = Field(default=None, description="A new prompt for the request at `at`.")
    agent_version: int | None = Field(default=None, ge=1, description="Default: the run's own version.")
    mode: RunMode = "sync"

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: str | list[Any] | None) -> str | list[Any] | None:
        if isinstance(value, str) and not value.strip():
            raise ValueError("input must not be empty")
        return value


class RunMessage(BaseModel):
    """One message of a run's recorded conversation (pydantic-ai's message JSON)."""

    index: int
    kind: Literal["request", "response"]
    message: dict[str, Any]


class RunMessagePage(BaseModel):
    items: list[RunMessage]
    recorded: bool = Field(description="False: the run kept no complete recording (replay/fork → 409).")


class RunPublic(BaseModel):
    """A run as the API shows it (image data is summarised, not echoed)."""

    id: str
    agent_id: str
    agent_version: int
    session_id: str | None = None
    owner_id: str
    mode: RunMode
    status: RunStatus
    input: str | list[dict[str, Any]]
    output: Any = None
    error: RunErrorInfo | None = None
    usage: RunUsage = Field(default_factory=RunUsage)
    cost_usd: float | None = 0.0
    attempts: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    batch_id: str | None = None
    artifacts: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    # Why the model stopped its last response: stop | length | content_filter | tool_call | error
    # (docs/api-decisions/models.md); None until a model response arrived.
    finish_reason: FinishReason | None = None
    # Human approval (status requires_action): what waits, and every decision taken so far.
    required_action: RequiredAction | None = None
    approvals: list[ApprovalDecisionRecord] = Field(default_factory=list[ApprovalDecisionRecord])
    # The schedule that started this run (docs/schedules.md), None for other runs.
    schedule_id: str | None = None
    source: RunSource = Field(
        default="api", description="how the run was started: api, mcp, a2a, replay or fork"
    )
    # Replay and fork (docs/replay.md): what this run re-plays or continues, None for other runs.
    replay_of: str | None = None
    fork_of: str | None = None
    fork_at: int | None = None
    replay: ReplayReport | None = Field(default=None, description="Set when a replay has ended.")
    # True when the run tried an unsaved draft of its agent (``POST /runs`` with ``draft``).
    draft: bool = False


class RunRecord(RunPublic):
    """What ``runs/{id}`` stores. Other areas (worker, batches, artifacts) may add fields."""

    model_config = ConfigDict(extra="allow")

    limits: Limits | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    # The agent's marketplace listing, copied when the run is created so finishing the run
    # needs no agent read for the listing's stats: "" = not installed from a listing,
    # None = not recorded (older runs; looked up when the run finishes).
    listing_id: str | None = None
    # Async runs from POST /runs: True from storing the run until Pub/Sub accepted its
    # message (then ``published_at`` is set). Still True later = the request died in between.
    publish_pending: bool = False
    published_at: datetime | None = None
    # The instance executing the run (worker claim, or the sync/stream request): a valid lease
    # means a live holder, renewed every third of its length (``shared.runs.lifecycle``).
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    # The transient error of the last attempt handed back to the queue.
    last_error: dict[str, Any] | None = None
    paused_at: datetime | None = None
    # The hashed Idempotency-Key each decision came with (by tool_call_id): a retried request
    # is recognised and answered without deciding again.
    approval_keys: dict[str, str] = Field(default_factory=dict[str, str])
    # How many messages of the run's stored conversation (``shared.runs.checkpoints``) exist
    # once it ended: None = not recorded (runs from before recording was complete).
    recorded_messages: int | None = None
    # Forks (and replays of forks): the leading messages copied from another run.
    prefix_messages: int = 0
    # Runs given the conversation so far by the client (OpenAI-compatible API, AG-UI): how many
    # leading messages of the recording are that history (a replay starts after them).
    history_messages: int = 0
    # The unsaved definition a draft run executes (JSON), instead of ``agent_version``'s.
    draft_definition: dict[str, Any] | None = None

    def pinned_definition(self) -> AgentDefinition | None:
        """The definition a draft run executes (None: ``agent_version``'s, read from the agent)."""
        return AgentDefinition.model_validate(self.draft_definition) if self.draft_definition else None

    def public(self) -> RunPublic:
        data = {name: getattr(self, name) for name in RunPublic.model_fields}
        data["input"] = public_input(self.input)
        return RunPublic.model_validate(data)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


def public_input(value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        return value
    shown: list[dict[str, Any]] = []
    for part in value:
        if part.get("type") == "image":
            data = str(part.get("data", ""))
            shown.append(
                {"type": "image", "mime_type": part.get("mime_type"), "size_bytes": len(data) * 3 // 4}
            )
        else:
            shown.append(part)
    return shown


class RunPage(BaseModel):
    items: list[RunPublic]
    next_cursor: str | None = None


class RunListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=128)
    status: RunStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Cursor | None = None


class RunStreamQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["events", "vercel-ai"] = "events"
