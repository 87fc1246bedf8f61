"""The thin HTTP layer every function uses: route table, parsing, auth, rendering."""

from shared.web.app import install_framework_error_handler, serve
from shared.web.context import RequestContext
from shared.web.responses import Reply, sse_response
from shared.web.routing import Route, Router

install_framework_error_handler()  # once per process: the one app an entry module is loaded into

__all__ = ["Reply", "RequestContext", "Route", "Router", "serve", "sse_response"]
