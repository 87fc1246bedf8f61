// Drives our MCP server with the official TypeScript SDK client; prints one JSON report on stdout.
// Usage: node mcp_check.mjs <base url> <personal access token>
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [base, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "agents-service-check", version: "1.0.0" });
await client.connect(transport);
const report = { protocol: transport.protocolVersion ?? null, session: transport.sessionId ?? null };
const listed = await client.listTools();
report.tools = listed.tools
  .map((t) => ({ name: t.name, output_schema: t.outputSchema ?? null }))
  .sort((a, b) => a.name.localeCompare(b.name));
const progress = [];
const structured = await client.callTool(
  { name: "searcher", arguments: { input: 'call grep {"pattern": "x"}' } },
  undefined,
  { onprogress: (p) => progress.push(p.message ?? null) },
);
report.searcher = { is_error: structured.isError ?? false, text: structured.content[0].text, progress };
const reporter = await client.callTool({
  name: "reporter",
  arguments: { input: 'output {"title": "TS", "score": 3}' },
});
report.reporter = { is_error: reporter.isError ?? false, structured: reporter.structuredContent ?? null };
const failed = await client.callTool({ name: "writer", arguments: { input: "fail 500" } });
report.failed = { is_error: failed.isError ?? false, text: failed.content[0].text };
try {
  await client.callTool({ name: "nobody", arguments: { input: "x" } });
  report.unknown = "accepted";
} catch (error) {
  report.unknown = { code: error.code ?? null, message: String(error.message) };
}
await client.close();
process.stdout.write(JSON.stringify(report));
