"""Our agents as an MCP server (`/mcp`, `/mcp/agents/{agent_id}`): each runnable agent of the
caller is an MCP tool; a call is a normal run with ``source: "mcp"``. See docs/mcp-client.md and
docs/api-decisions/mcp-server.md."""
