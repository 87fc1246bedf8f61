"""Requests to URLs users give us (webhook endpoints, later remote MCP servers), guarded.

In the cloud a user-given URL must be ``https`` and its host must resolve **only** to public
addresses: no loopback, private ranges (RFC 1918, ULA), link-local (which holds the metadata
server, 169.254.169.254 / fd00:ec2::254), CGNAT, multicast, reserved or unspecified ones, and
no ``metadata.google.internal``. The check runs when the request is sent, after DNS, and the
connection then goes to the very address that was checked (the TLS handshake still verifies
the certificate against the host name), so a name that re-resolves to a private address
between the check and the connect (DNS rebinding) gains nothing. Redirects are never
followed, and only a short excerpt of the response body is read.

Locally (``ENVIRONMENT`` ``local`` or ``test``) ``http`` and loopback addresses are also
allowed, so tests and ``make dev`` can use receivers on 127.0.0.1; private ranges and the
metadata server stay refused everywhere.

``check_url`` validates the shape of a URL when it is saved (422 on failure); ``post``
sends, raising ``OutboundRefused`` (the guard said no) or returning an ``OutboundResponse``
(with ``error`` set when the connection failed or timed out).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import ValidationFailed

# Names that are the metadata server whatever they resolve to.
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.google.internal.", "metadata"})
_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
EXCERPT_BYTES = 1024
MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Exception):
    """The guard refused the destination; ``reason`` is safe to show to its owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OutboundPolicy:
    """What the guard admits: the cloud policy unless ``allow_loopback`` (local/test only)."""

    allow_loopback: bool = False

    @property
    def allow_http(self) -> bool:
        return self.allow_loopback


CLOUD_POLICY = OutboundPolicy(allow_loopback=False)
LOCAL_POLICY = OutboundPolicy(allow_loopback=True)


def current_policy() -> OutboundPolicy:
    from shared.settings import get_settings

    return LOCAL_POLICY if get_settings().environment in ("local", "test") else CLOUD_POLICY


@dataclass(frozen=True)
class OutboundResponse:
    status: int | None
    latency_ms: int
    excerpt: str = ""
    # "timeout", "connection_failed", "tls_failed" when no HTTP answer arrived.
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _split(url: str, policy: OutboundPolicy) -> tuple[str, str, int, str]:
    """(scheme, host, port, path+query) of an admissible URL, else OutboundRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise OutboundRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise OutboundRefused("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused("the URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise OutboundRefused("the URL must use https")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("the URL must not contain credentials")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise OutboundRefused("the URL has no host")
    if host in _METADATA_HOSTS:
        raise OutboundRefused("the metadata server is not an allowed destination")
    if parts.fragment:
        raise OutboundRefused("the URL must not contain a fragment")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


def refusal_for(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why ``address`` is not an allowed destination (None if it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA_ADDRESSES:
        return "the metadata server is not an allowed destination"
    if address.is_loopback:
        return None if policy.allow_loopback else "loopback addresses are not allowed"
    if address.is_link_local:
        return "link-local addresses are not allowed"
    if address.is_private or address.is_reserved or address.is_unspecified or address.is_multicast:
        return "private and reserved addresses are not allowed"
    if not address.is_global:  # e.g. 100.64.0.0/10 (CGNAT)
        return "only public addresses are allowed"
    return None


def check_url(url: str, *, field: str = "url", policy: OutboundPolicy | None = None) -> str:
    """Validate a URL's shape when it is saved (422 naming ``field``). Literal addresses are
    checked too; names are resolved only when sending (they may change in between)."""
    policy = policy or current_policy()
    try:
        _, host, _, _ = _split(url, policy)
        literal = _literal_address(host)
        if literal is not None:
            reason = refusal_for(literal, policy)
            if reason:
                raise OutboundRefused(reason)
    except OutboundRefused as refused:
        raise ValidationFailed.field(field, refused.reason) from None
    return url


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int, policy: OutboundPolicy) -> IPAddress:
    """The address to connect to: every address ``host`` resolves to must be allowed."""
    literal = _literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, ValueError):
            raise OutboundRefused("the host name does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise OutboundRefused("the host name does not resolve")
    for address in addresses:
        reason = refusal_for(address, policy)
        if reason:
            raise OutboundRefused(reason)
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = str(address)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = str(address)
        self._ssl_context = ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI for the host name, connection to the checked address.
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    policy: OutboundPolicy | None = None,
) -> OutboundResponse:
    """POST ``body`` to ``url`` through the guard (see the module docstring)."""
    policy = policy or current_policy()
    scheme, host, port, target = _split(url, policy)
    address = resolve(host, port, policy)
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, port, address, timeout)
    started = time.monotonic()
    try:
        connection.request("POST", target, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        status = response.status
    except TimeoutError:
        return OutboundResponse(None, _ms_since(started), error="timeout")
    except ssl.SSLError:
        return OutboundResponse(None, _ms_since(started), error="tls_failed")
    except (OSError, ValueError, http.client.HTTPException):
        return OutboundResponse(None, _ms_since(started), error="connection_failed")
    finally:
        connection.close()
    return OutboundResponse(status, _ms_since(started), excerpt)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
