"""Why a run failed: pydantic-ai / provider exceptions → a stable ``error.code`` and safe message.

Messages are ours, never exception text (which can echo prompts, URLs or provider bodies).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from shared.errors import ServiceError


@dataclass(frozen=True)
class RunError:
    code: str
    message: str
    # Whether trying again later may succeed (the async worker retries these).
    transient: bool = False

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


CANCELLED = RunError("cancelled", "the run was cancelled")
CLIENT_DISCONNECTED = RunError("client_disconnected", "the client disconnected before the run finished")


def output_limit_reached(max_tokens: int | None) -> RunError:
    limit = f"max_tokens {max_tokens}" if max_tokens else "its output-token limit"
    return RunError(
        "output_limit_reached",
        f"the model used up {limit} before it produced a usable answer; raise the agent's "
        "model.max_tokens (thinking tokens count against it) or lower model.thinking",
    )


CONTENT_FILTERED = RunError(
    "content_filtered", "the model provider's safety filters blocked the prompt or the answer"
)


def classify(exc: BaseException, *, max_tokens: int | None = None) -> RunError:
    """The run error for an exception raised while executing an agent.

    ``max_tokens`` is the output-token limit the requests were sent with (named in the
    ``output_limit_reached`` message).
    """
    from pydantic_ai import exceptions as pe

    # Subclasses of UnexpectedModelBehavior: checked before it.
    if isinstance(exc, pe.ContentFilterError):
        return CONTENT_FILTERED
    if isinstance(exc, pe.OutputTokenLimitExceeded):
        return output_limit_reached(max_tokens)
    if isinstance(exc, pe.UsageLimitExceeded):
        return RunError("usage_limit_exceeded", _limit_message(str(exc)))
    if isinstance(exc, pe.RunTimedOut):
        return RunError("run_timeout", "the run exceeded its time limit")
    if isinstance(exc, pe.RunCancelled | asyncio.CancelledError):
        return CANCELLED
    if isinstance(exc, pe.ModelRequestTimeout | pe.ModelTimeoutError | TimeoutError):
        return RunError("model_timeout", "the model did not answer in time (after retries)", transient=True)
    if isinstance(exc, pe.ModelHTTPError):
        status = exc.status_code
        if status == 429:
            return RunError(
                "model_rate_limited",
                "the model provider is rate limiting requests (after retries)",
                transient=True,
            )
        if status >= 500:
            return RunError(
                "model_unavailable", "the model provider is unavailable (after retries)", transient=True
            )
        if status in (401, 403):
            return RunError("model_auth_failed", "the service could not authenticate to the model provider")
        if status == 404:
            return RunError("model_not_found", "the model is not available in this project or region")
        return RunError("model_request_rejected", f"the model provider rejected the request (HTTP {status})")
    if isinstance(exc, pe.ModelRateLimitError | pe.ModelQuotaExceededError):
        return RunError("model_rate_limited", "the model provider is rate limiting requests", transient=True)
    if isinstance(exc, pe.ModelUnavailableError | pe.ModelServerError | pe.ModelConnectionError):
        return RunError(
            "model_unavailable", "the model provider is unavailable (after retries)", transient=True
        )
    if isinstance(exc, pe.ModelAPIError):
        return RunError("model_error", "the model request failed")
    if isinstance(exc, pe.UnexpectedModelBehavior):
        text = exc.message
        if "output retries" in text or "output validation" in text:
            return RunError(
                "output_validation_failed", "the model's output did not match the agent's output_schema"
            )
        if "Tool" in text and "retries" in text:
            return RunError("tool_error", "a tool kept failing and its retries were used up")
        return RunError("model_behaviour", "the model returned an unexpected response")
    if isinstance(exc, ServiceError):
        return RunError(exc.error_code, exc.message)
    return RunError("internal", "the run failed because of an internal error")


def _limit_message(text: str) -> str:
    """Name the limit without echoing internals (pydantic-ai's text names the limit field)."""
    for field, public in (
        ("request_limit", "max_requests"),
        ("tool_calls_limit", "max_tool_calls"),
        ("input_tokens_limit", "max_input_tokens"),
        ("output_tokens_limit", "max_output_tokens"),
        ("total_tokens_limit", "max_total_tokens"),
        ("cost_limit", "max_cost_usd"),
    ):
        if field in text:
            return f"the run reached its {public} limit"
    return "the run reached a usage limit"
