"""The thin HTTP layer every function uses: route table, parsing, auth, rendering."""

from shared.web.app import serve
from shared.web.context import RequestContext
from shared.web.responses import Reply, sse_response
from shared.web.routing import Route, Router

__all__ = ["Reply", "RequestContext", "Route", "Router", "serve", "sse_response"]
