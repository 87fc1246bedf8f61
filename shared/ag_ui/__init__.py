"""AG-UI (``POST /ag-ui/{agent_id}``): pydantic-ai's AG-UI event stream over our own router.

Hosting decision (docs/architecture.md, "Protocol endpoints"): the protocol runs on our
Flask router, not as an ASGI app: the request is parsed with ``AGUIAdapter.build_run_input``,
the run is a normal stream run, and ``AGUIEventStream`` encodes the execution core's
pydantic-ai events, exactly as the Vercel AI stream does.
"""
