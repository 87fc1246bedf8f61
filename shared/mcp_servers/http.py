"""The HTTP client every MCP and OAuth request goes through: ``shared.outbound``'s guard on httpx2.

- each connection goes to an address checked after DNS (``outbound.resolve``: https only and
  public addresses in the cloud), and to exactly that address (no DNS rebinding; TLS still
  verifies the certificate for the host name);
- redirects are followed (at most 3) only because every hop passes the same guard: a redirect
  to a private address or to ``http`` is refused at connect time;
- connect/read timeouts and a cap on each response body (MCP_MAX_RESPONSE_BYTES).

Imported only when an MCP server is contacted (httpx2 and the MCP client are heavy).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream

from shared import outbound
from shared.settings import get_settings

MAX_REDIRECTS = 3


class OutboundBlocked(httpx2.TransportError):
    """The guard refused a destination (``reason`` is safe to show)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResponseTooLarge(httpx2.TransportError):
    pass


class _GuardedBackend(AsyncNetworkBackend):
    def __init__(self, inner: AsyncNetworkBackend, policy: outbound.OutboundPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        try:
            address = await asyncio.to_thread(outbound.resolve, host, port, self._policy)
        except outbound.OutboundRefused as refused:
            raise OutboundBlocked(refused.reason) from None
        return await self._inner.connect_tcp(
            str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> AsyncNetworkStream:
        raise OutboundBlocked("unix sockets are not an allowed destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseTooLarge(f"the response is larger than {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, policy: outbound.OutboundPolicy | None = None, max_bytes: int | None = None) -> None:
        super().__init__(trust_env=False)
        self._policy = policy or outbound.current_policy()
        self._max_bytes = max_bytes or get_settings().mcp_max_response_bytes
        pool: Any = self._pool
        pool._network_backend = _GuardedBackend(pool._network_backend, self._policy)  # pyright: ignore[reportPrivateUsage]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            outbound.check_url(str(request.url), policy=self._policy)
        except Exception as exc:
            reason = getattr(exc, "message", None) or str(exc)
            raise OutboundBlocked(reason.removeprefix("url: ")) from None
        response = await super().handle_async_request(request)
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max_bytes:
            await response.aclose()
            raise ResponseTooLarge(f"the response is larger than {self._max_bytes} bytes")
        response.stream = _CappedStream(response.stream, self._max_bytes)
        return response


def bounded_timeout() -> httpx2.Timeout:
    settings = get_settings()
    return httpx2.Timeout(settings.mcp_read_timeout_seconds, connect=settings.mcp_connect_timeout_seconds)


def guarded_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    **_: Any,
) -> httpx2.AsyncClient:
    """An httpx2 client through the guard (also the MCP transport's ``httpx_client_factory``:
    its ``follow_redirects`` and ``timeout`` arguments are overridden by ours)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(),
        headers={"user-agent": "agents-service-mcp/1", **(headers or {})},
        auth=auth,
        timeout=bounded_timeout(),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )
