"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Validation failures are 400 (OpenAI has no 422); an unknown parameter names itself and,
where OpenAI defines it but it cannot map onto an agent run, why (``UNSUPPORTED``).
"""

from __future__ import annotations

from typing import Any

from shared.errors import ServiceError
from shared.openai_compat.schemas import UNSUPPORTED

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def status_of(error: ServiceError) -> int:
    return 400 if error.status == 422 else error.status


def error_object(error: ServiceError) -> dict[str, Any]:
    message = error.message
    code: str | None = error.error_code
    param: str | None = error.details.get("param")
    fields: list[dict[str, Any]] = error.details.get("fields") or []
    if error.status == 422 and fields:
        first = fields[0]
        param = str(first.get("loc", "")) or None
        if first.get("type") == "extra_forbidden" and param is not None:
            reason = UNSUPPORTED.get(param.split(".")[0].split("[")[0])
            code = "unsupported_parameter"
            message = f"Unsupported parameter: '{param}'" + (f": {reason}." if reason else ".")
        else:
            code = "invalid_value"
            message = f"Invalid value for '{param}': {first.get('message', 'invalid')}."
    elif error.status == 401:
        code = "invalid_api_key"
    kind = _TYPES.get(error.status, "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
