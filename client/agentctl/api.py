"""HTTP access to the service: JSON requests, SSE streams, token refresh and API errors.

``requests`` is imported when the first request is made, so ``agentctl --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from agentctl import config, sse

if TYPE_CHECKING:
    import requests

_TIMEOUT = (10, 300)  # connect, read
_STREAM_TIMEOUT = (10, 3600)


class CliError(Exception):
    """Anything that ends the command with one line on stderr and a non-zero exit code."""

    exit_code = 1

    def __init__(self, *args: object, exit_code: int | None = None) -> None:
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


class NotLoggedIn(CliError):
    def __init__(self) -> None:
        super().__init__("not logged in: run `agentctl login`")


class ApiError(CliError):
    """An error body from the API: ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details

    def __str__(self) -> str:
        text = f"{self.args[0]} ({self.status} {self.code})"
        if self.code == "name_taken":
            text += "; pick another with --name NEW-NAME"
        fields = _field_errors(self.details)
        return f"{text}: {fields}" if fields else text


def field_error_entries(details: Any) -> list[tuple[str, str]]:
    """(location, message) pairs of 422 details (a list of {loc/field, msg} or a mapping)."""
    pairs: list[tuple[str, str]] = []
    entries = details.get("fields", details.get("errors")) if isinstance(details, dict) else details
    if isinstance(entries, list):
        for entry in entries:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(entry, dict):
                loc: Any = entry.get("field") or entry.get("loc") or entry.get("path") or ""  # pyright: ignore[reportUnknownMemberType]
                if isinstance(loc, list):
                    loc = ".".join(str(part) for part in loc)  # pyright: ignore[reportUnknownVariableType]
                pairs.append((str(loc), str(entry.get("message") or entry.get("msg") or "")))  # pyright: ignore[reportUnknownMemberType]
            else:
                pairs.append(("", str(entry)))  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(entries, dict):
        pairs.extend((str(key), str(value)) for key, value in entries.items())  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    return pairs


def _field_errors(details: Any) -> str:
    """Render 422 details on the same line."""
    return "; ".join(f"{loc}: {message}".strip(": ") for loc, message in field_error_entries(details))


def error_from_response(response: requests.Response) -> ApiError:
    try:
        body = response.json()
        error = body["error"]
        return ApiError(
            response.status_code,
            str(error.get("code", "error")),
            str(error.get("message", "")),
            error.get("details"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return ApiError(response.status_code, "http_error", response.reason or "request failed")


def _lines(response: requests.Response) -> Iterator[str]:
    """Decoded lines as the bytes arrive (chunk_size=None yields each chunk as received)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in response.iter_content(chunk_size=None):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        yield from complete
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


class Client:
    """One base URL, the stored tokens for it, and a lazily created HTTP session."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.credentials = config.load_credentials(base_url)
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "agentctl"
        return self._session

    # -- requests -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool | None = True,
        stream: bool = False,
    ) -> requests.Response:
        """Send a request (a JSON body, or raw ``data``); on 401 refresh the access token once and
        retry. Raises ApiError."""
        response = self._send(
            method, path, json=json, data=data, params=params, headers=headers, auth=auth, stream=stream
        )
        if response.status_code == 401 and auth and not (self.credentials or {}).get("access_token"):
            response.close()
            raise NotLoggedIn()
        if response.status_code == 401 and auth is not False and self._refresh():
            response.close()
            response = self._send(
                method, path, json=json, data=data, params=params, headers=headers, auth=auth, stream=stream
            )
        if response.status_code >= 400:
            error = error_from_response(response)
            response.close()
            if error.status == 401 and auth is not False:
                raise CliError(f"{error.args[0]} — run `agentctl login` ({error.code})")
            raise error
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A JSON request returning the decoded body (None for 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        content_type = response.headers.get("Content-Type", "")
        return response.json() if "json" in content_type else response.content

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def paginate(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        limit: int | None = None,
        auth: bool | None = True,
    ) -> Iterator[Any]:
        """Every item of a paginated list (``{"items", "next_cursor"}``), up to ``limit``."""
        query = dict(params or {})
        seen = 0
        while True:
            size = 100 if limit is None else min(100, limit - seen)
            page = self.get(path, params={**query, "limit": size}, auth=auth)
            items = page["items"] if isinstance(page, dict) else page
            for item in items:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor") if isinstance(page, dict) else None
            if not cursor:
                return
            query["cursor"] = cursor

    def stream_events(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Iterator[sse.Event]:
        """Open an SSE response and yield its events as they arrive."""
        all_headers = {"Accept": "text/event-stream", **(headers or {})}
        response = self.request(method, path, json=json, headers=all_headers, params=params, stream=True)
        try:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                # The server answered with JSON (e.g. a finished run): surface it as one event.
                body = response.json()
                yield sse.Event("json", body, None)
                return
            yield from sse.parse(_lines(response))
        finally:
            response.close()

    # -- auth -----------------------------------------------------------------------------

    def login(self, username: str, password: str) -> dict[str, Any]:
        tokens = self.post("/auth/login", json={"username": username, "password": password}, auth=False)
        self._store(tokens, username)
        return tokens

    def use_token(self, token: str) -> None:
        """Authenticate this process with a personal access token (nothing stored; no refresh)."""
        self.credentials = {"access_token": token, "token_type": "bearer", "personal": True}

    def login_with_token(self, token: str) -> dict[str, Any]:
        """Check a personal access token and store it as this base URL's credentials."""
        self.use_token(token)
        user = self.get("/auth/me")
        self.credentials = {**(self.credentials or {}), "username": user.get("username")}
        config.save_credentials(self.base_url, self.credentials)
        return user

    def logout(self) -> None:
        refresh_token = (self.credentials or {}).get("refresh_token")
        try:
            if refresh_token:
                self.post("/auth/logout", json={"refresh_token": refresh_token}, auth=False)
        finally:
            config.forget_credentials(self.base_url)
            self.credentials = None

    def _store(self, tokens: dict[str, Any], username: str | None) -> None:
        self.credentials = {
            "username": username,
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "token_type": tokens.get("token_type", "bearer"),
        }
        config.save_credentials(self.base_url, self.credentials)

    def _refresh(self) -> bool:
        """Trade the refresh token for a new pair (they rotate); False when there is none or it fails."""
        refresh_token = (self.credentials or {}).get("refresh_token")
        if not refresh_token:
            return False
        response = self._send("POST", "/auth/refresh", json={"refresh_token": refresh_token}, auth=False)
        if response.status_code != 200:
            return False
        self._store(response.json(), (self.credentials or {}).get("username"))
        return True

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool | None = True,
        stream: bool = False,
    ) -> requests.Response:
        import requests

        all_headers = dict(headers or {})
        # auth=None: send the token when there is one (public endpoints that personalise).
        token = (self.credentials or {}).get("access_token") if auth is not False else None
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(
                method,
                self.base_url + path,
                json=json,
                data=data,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=all_headers,
                stream=stream,
                timeout=_STREAM_TIMEOUT if stream else _TIMEOUT,
            )
        except requests.ConnectionError as exc:
            raise CliError(f"cannot reach {self.base_url}: {_connection_problem(exc)}") from None
        except requests.Timeout:
            raise CliError(f"{self.base_url} did not answer in time") from None


def _connection_problem(exc: BaseException) -> str:
    """ "connection refused", "unknown host …": the root cause of a failed connection, in words."""
    import socket

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "unknown host"
        if isinstance(current, TimeoutError):
            return "connection timed out"
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = current.__cause__ or current.__context__ or nested
        if current is None and nested is not None:
            current = nested
    text = str(exc).lower()
    for needle, words in (("refused", "connection refused"), ("name or service", "unknown host")):
        if needle in text:
            return words
    return "connection failed"
