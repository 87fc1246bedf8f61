"""HTTP transfer of workspace files and artifacts: reading an upload, rendering a download."""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING

from shared.errors import BadRequest, PayloadTooLarge
from shared.settings import get_settings
from shared.web.parsing import read_body
from shared.workspace.sandbox import FileTooLarge

if TYPE_CHECKING:
    import flask


def read_upload(request: flask.Request) -> bytes:
    """The raw request body, at most ``WORKSPACE_MAX_FILE_BYTES`` (413 ``file_too_large``).

    The whole body is read before anything is written, so an oversized or broken upload
    never touches the stored file.
    """
    limit = get_settings().workspace_max_file_bytes
    try:
        data = read_body(request, limit)
    except PayloadTooLarge:
        raise FileTooLarge(f"the file is larger than {limit} bytes", limit=limit) from None
    if not data and not request.headers.get("Content-Type"):
        # No bytes and no media type is a request without a body (the route requires one);
        # an empty file is sent as an empty body *with* its Content-Type.
        raise BadRequest(
            "the request has no body: send the file's bytes (an empty file with a Content-Type)",
            code="missing_body",
        )
    return data


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or "application/octet-stream"


def file_response(data: bytes, path: str, sha256: str) -> flask.Response:
    """The bytes with their content type; never rendered as active content on the API origin."""
    import flask

    response = flask.Response(data, status=200, mimetype=content_type(path))
    response.headers["ETag"] = f'"{sha256}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    # An uploaded .html/.svg must not run script in the API's origin if opened in a browser.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
