"""One small error hierarchy, mapped to HTTP in one place (`shared.web.app`).

Every error carries a stable machine-readable ``code``; the message is safe to show to
the caller (never exception text from a backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ServiceError(Exception):
    """Base of every error the service reports to a caller."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str = "internal error",
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = code or self.code
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.error_code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str = "invalid or missing credentials", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ServiceError):
    status = 405
    code = "method_not_allowed"


class NotAcceptable(ServiceError):
    status = 406
    code = "not_acceptable"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_error"

    @classmethod
    def field(cls, loc: str, message: str, *, error_type: str = "value_error") -> ValidationFailed:
        """A validation error naming one field (dotted location, e.g. ``model.name``)."""
        return cls(
            f"{loc}: {message}",
            details={"fields": [{"loc": loc, "message": message, "type": error_type}]},
        )


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str = "too many requests", *, retry_after: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))


class BadGateway(ServiceError):
    """A server the service calls on the user's behalf (e.g. a remote MCP server) failed."""

    status = 502
    code = "bad_gateway"


class ServiceUnavailable(ServiceError):
    status = 503
    code = "unavailable"

    def __init__(
        self, message: str = "a backend is unavailable", *, retry_after: int = 2, **kwargs: Any
    ) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(message, **kwargs)


class Contended(ServiceUnavailable):
    """A transaction kept losing to concurrent writers of the same documents: retry."""


class ConfigurationError(ServiceError):
    """A required setting is missing or invalid; names the setting, never its value."""

    status = 500
    code = "misconfigured"
