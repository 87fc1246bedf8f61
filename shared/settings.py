"""Typed settings: one pydantic-settings object, read once, lazily.

Values come from the environment (and a local ``.env``). Secrets are read from the
environment when present (locally, or injected by ``--set-secrets`` in the cloud) and
otherwise resolved from Secret Manager by name, on first use.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Deployment
    environment: Literal["local", "test", "cloud"] = "local"
    gcp_project: str = Field(default="demo-agents", validation_alias="GOOGLE_CLOUD_PROJECT")
    firestore_database: str = "(default)"
    service_name: str = Field(default="agents-service", validation_alias="K_SERVICE")

    # Emulators (set only locally; their presence switches clients to emulator mode)
    firestore_emulator_host: str | None = None
    pubsub_emulator_host: str | None = None
    firebase_auth_emulator_host: str | None = None

    # Pub/Sub
    run_requests_topic: str = "run-requests"
    run_results_topic: str = "run-results"
    run_dead_letter_topic: str = "run-requests-dead-letter"
    run_max_delivery_attempts: int = Field(default=5, ge=1, le=100)
    # Workers renew their lease every third of this; an expired lease means the worker died.
    run_lease_seconds: int = Field(default=60, ge=5)
    run_message_max_age_seconds: int = Field(default=24 * 3600, ge=60)
    # How long a request waits for Pub/Sub to accept a run message before answering 503.
    run_publish_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # GET /runs/{id} republishes a queued async run whose message was never confirmed sent
    # (its request died between storing and publishing) once it is this old.
    run_republish_after_seconds: float = Field(default=30.0, ge=0, le=3600)
    # The sweep repairs a batch whose creating request has not finished its fan-out in this
    # long (its request died). A request that was only slow still wins (see recover_batch).
    batch_recover_after_seconds: float = Field(default=600.0, ge=0, le=86400)
    # A delivery that finds another worker's lease waits at most this long for it to prove alive.
    run_duplicate_wait_seconds: float = Field(default=30.0, ge=0, le=300)
    # A worker waits this long for a session held by another run before asking for redelivery.
    run_session_wait_seconds: float = Field(default=20.0, ge=0, le=300)
    # Events SSE: poll interval and the longest one follow-stream stays open.
    run_events_poll_seconds: float = Field(default=0.5, gt=0, le=10)
    run_events_follow_max_seconds: float = Field(default=900.0, gt=0, le=3600)
    # A run paused for a human decision (requires_action) is ended by the sweep after this
    # long (failed, approval_expired).
    run_approval_ttl_seconds: int = Field(default=24 * 3600, ge=1, le=30 * 86400)

    # Webhooks (shared/webhooks) and schedules (shared/schedules); the dispatcher function.
    webhook_deliveries_topic: str = "webhook-deliveries"
    webhook_dead_letter_topic: str = "webhook-deliveries-dead-letter"
    schedule_ticks_topic: str = "schedule-ticks"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # A delivery is retried (rounds of Pub/Sub attempts) for this long before it fails.
    webhook_retry_window_seconds: int = Field(default=3 * 86400, ge=86400)
    # An endpoint failing without a success for this long is disabled.
    webhook_disable_after_seconds: int = Field(default=5 * 86400, ge=60)
    webhook_max_per_user: int = Field(default=20, ge=1, le=1000)
    schedule_max_per_user: int = Field(default=50, ge=1, le=1000)
    # Due schedules one tick starts at most (the rest are caught up by the next tick).
    schedule_tick_batch: int = Field(default=200, ge=1, le=1000)

    # Remote MCP servers (shared/mcp_servers): tools cache, outbound bounds, credential keys.
    mcp_tools_cache_seconds: int = Field(default=300, ge=0, le=86400)
    mcp_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    mcp_read_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    mcp_max_response_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    mcp_servers_max_per_user: int = Field(default=50, ge=1, le=1000)
    # Comma-separated base64 AES-256 keys: the first encrypts, all decrypt (rotation). In the
    # cloud read from Secret Manager (MCP_CREDENTIAL_KEYS_NAME) unless injected.
    mcp_credential_keys: SecretStr | None = None
    mcp_credential_keys_name: str = "mcp-credential-keys"
    # The public origin of the API (OAuth redirect URIs); else the request's own origin.
    public_base_url: str | None = None

    # Auth
    jwt_secret: SecretStr | None = None
    jwt_secret_name: str = "jwt-signing-key"
    jwt_issuer: str = "agents-service"
    jwt_audience: str = "agents-service-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    # A personal access token's last_used_at is written at most this often (not per request).
    pat_last_used_granularity_seconds: int = Field(default=3600, ge=0)
    # Login throttling (shared/auth/throttle.py): free failures, then a doubling back-off.
    login_max_failures_per_pair: int = Field(default=5, ge=1)
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_spray_accounts: int = Field(default=10, ge=2)
    login_backoff_base_seconds: float = Field(default=30.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)
    login_throttle_window_seconds: int = Field(default=3600, ge=1)
    firebase_project: str | None = None
    # Argon2id cost (RFC 9106 second recommendation); changing it rehashes on next login.
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_cost_kib: int = Field(default=64 * 1024, ge=8 * 1024, le=1024 * 1024)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)

    # Models
    model_backend: Literal["vertex", "offline"] = "vertex"
    vertex_location: str = "us-central1"
    anthropic_vertex_region: str = "us-east5"
    vertex_base_url: str | None = None
    anthropic_vertex_base_url: str | None = None
    model_max_retries: int = Field(default=2, ge=0, le=10)
    model_request_timeout_seconds: float = Field(default=300.0, gt=0)
    # First backoff delay between retried provider calls (429/5xx); doubles per retry.
    model_retry_initial_delay_seconds: float = Field(default=1.0, ge=0.0, le=60.0)

    # Runs
    run_rate_limit_per_minute: int = Field(default=120, ge=0)
    max_delegation_depth: int = Field(default=3, ge=0, le=10)
    # Run events: text deltas are coalesced into one stored event per window or size.
    run_event_flush_seconds: float = Field(default=0.2, ge=0.0, le=10.0)
    run_event_flush_chars: int = Field(default=2000, ge=1)
    # Session history is stored in chunk documents below Firestore's 1 MiB document limit.
    session_chunk_bytes: int = Field(default=900_000, ge=1024, le=1_000_000)
    session_lease_seconds: int = Field(default=900, ge=5)

    # Marketplace: counters are spread over this many shard documents per listing.
    marketplace_stat_shards: int = Field(default=8, ge=1, le=100)
    # Extra documents one search page may scan when words/tags are filtered after the query.
    marketplace_search_overfetch: int = Field(default=60, ge=0, le=500)
    # Run completions fold stats onto the listing (for search) at most this often.
    marketplace_stats_fold_seconds: float = Field(default=10.0, ge=0.0)

    # Workspace (a folder locally, a Cloud Storage FUSE mount in the cloud)
    workspace_root: Path = Path(".data/workspaces")
    workspace_max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    workspace_quota_bytes: int = Field(default=100 * 1024 * 1024, ge=1)

    # HTTP
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Firestore read/write counts per response (benchmarks, tests); unset = on except in the cloud.
    expose_cost_headers: bool | None = None
    cors_allowed_origins: str = ""
    trusted_proxy_hops: int = Field(default=1, ge=0, le=5)

    def cors_origins(self) -> set[str]:
        return {o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()}

    # Observability
    log_level: str = "INFO"
    otel_exporter: Literal["none", "console", "otlp"] = "none"

    @property
    def cost_headers_enabled(self) -> bool:
        if self.expose_cost_headers is not None:
            return self.expose_cost_headers
        return self.environment != "cloud"

    @property
    def is_emulated_firebase_auth(self) -> bool:
        """Emulator tokens are unsigned, so they are accepted only outside the cloud."""
        return bool(self.firebase_auth_emulator_host) and self.environment != "cloud"

    def jwt_signing_key(self) -> str:
        """The access-token signing key: env first, then Secret Manager."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        if self.environment == "cloud":
            from shared.secrets import read_secret

            return read_secret(self.jwt_secret_name)
        raise ConfigurationError(
            "missing setting JWT_SECRET (or set ENVIRONMENT=cloud to read it from Secret Manager)",
            details={"setting": "JWT_SECRET"},
        )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: name the settings, not their values
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            names = sorted({str(err["loc"][0]).upper() for err in exc.errors() if err["loc"]})
            raise ConfigurationError(
                f"invalid setting(s): {', '.join(names)}", details={"settings": names}
            ) from None
        raise


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
