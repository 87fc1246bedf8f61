"""The AG-UI route of the `runs` function: /ag-ui/{agent_id}."""

from __future__ import annotations

import flask

from shared.web import RequestContext, Router, sse_response

routes = Router("runs", ())


@routes.route(
    "POST",
    "/ag-ui/{agent_id}",
    body_kind="raw",
    raw_media_type="application/json",
    streams=True,
    tags=("ag-ui",),
    errors=(400, 403, 404, 409, 413, 415, 422, 429),
    response_media_type="text/event-stream",
    scope="runs",
)
def ag_ui_run(ctx: RequestContext) -> flask.Response:
    """Run my agent for an AG-UI client (`RunAgentInput` JSON body → AG-UI SSE events)."""
    from shared.ag_ui import service as ag_ui
    from shared.openai_compat import runner
    from shared.runs import streaming
    from shared.web.parsing import is_json_content_type, read_body

    if not is_json_content_type((ctx.request.mimetype or "").lower()):
        from shared.errors import UnsupportedMediaType

        raise UnsupportedMediaType("send the AG-UI RunAgentInput as application/json")
    from shared.settings import get_settings

    run_input = ag_ui.parse_input(read_body(ctx.request, get_settings().max_body_bytes))
    prepared = ag_ui.start(ctx.principal, ctx.params["agent_id"], run_input)
    frames = ag_ui.frames(run_input, ctx.header("Accept"), prepared, runner.items(prepared, stream=True))
    headers = {"X-Run-Id": prepared.started.record.id}
    return sse_response(streaming.closing(streaming.drive(frames)), headers)
