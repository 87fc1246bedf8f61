"""What a handler sees of one request."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from shared.errors import Unauthorized

if TYPE_CHECKING:
    import flask

    from shared.auth.principal import Principal
    from shared.web.routing import Route


class RequestContext:
    def __init__(
        self,
        request: flask.Request,
        route: Route,
        params: dict[str, str],
        request_id: str,
    ) -> None:
        self.request = request
        self.route = route
        self.params = params
        self.request_id = request_id
        self.body: Any = None
        self.query: Any = None
        self.raw_body: bytes = b""

    @functools.cached_property
    def principal_or_none(self) -> Principal | None:
        """The authenticated caller, or None for an anonymous request."""
        from shared.auth.current import current_user_or_none

        return current_user_or_none(self.request)

    def set_principal(self, principal: Principal | None) -> None:
        self.__dict__["principal_or_none"] = principal

    @property
    def principal(self) -> Principal:
        principal = self.principal_or_none
        if principal is None:
            raise Unauthorized()
        return principal

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    @property
    def idempotency_key(self) -> str | None:
        key = self.request.headers.get("Idempotency-Key")
        return key.strip() if key and key.strip() else None

    @property
    def client_ip(self) -> str:
        """The caller's address as seen by the last trusted proxy.

        Entries left of those our own proxies append are client-controlled, so the
        address is taken ``TRUSTED_PROXY_HOPS`` entries from the right (1 behind the
        local gateway or Google's front end alone; 2 behind the HTTPS load balancer).
        """
        from shared.settings import get_settings

        hops = get_settings().trusted_proxy_hops
        entries = [e.strip() for e in self.request.headers.get("X-Forwarded-For", "").split(",") if e.strip()]
        if hops > 0 and len(entries) >= hops:
            return entries[-hops]
        return self.request.remote_addr or "unknown"

    def wants_event_stream(self) -> bool:
        return "text/event-stream" in (self.request.headers.get("Accept") or "")
