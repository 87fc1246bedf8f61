// Drives the service with official npm clients; prints one JSON report on stdout.
// Usage: node check.mjs <base url> <personal access token> <agent name> <agent id>
import OpenAI from "openai";
import { HttpAgent } from "@ag-ui/client";

const [base, token, agentName, agentId] = process.argv.slice(2);
const report = {};

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0 });
const models = await client.models.list();
report.models = models.data.map((m) => m.id);
const completion = await client.chat.completions.create({
  model: agentName,
  messages: [{ role: "user", content: "hello from npm" }],
});
report.chat = { content: completion.choices[0].message.content, finish: completion.choices[0].finish_reason };
let streamed = "";
const stream = await client.responses.create({ model: agentName, input: "stream from npm", stream: true });
const types = [];
for await (const event of stream) {
  types.push(event.type);
  if (event.type === "response.output_text.delta") streamed += event.delta;
}
report.responses_stream = { text: streamed, first: types[0], last: types[types.length - 1] };
try {
  await client.chat.completions.create({ model: agentName, messages: [{ role: "user", content: "x" }], n: 2 });
  report.unsupported = "accepted";
} catch (error) {
  report.unsupported = { status: error.status, code: error.code, param: error.param };
}

const agent = new HttpAgent({
  url: `${base}/ag-ui/${agentId}`,
  headers: { Authorization: `Bearer ${token}` },
  threadId: "thread-1",
  initialMessages: [{ id: "m1", role: "user", content: "hello from ag-ui" }],
});
const events = [];
const result = await agent.runAgent({ runId: "run-1" }, { onEvent: ({ event }) => { events.push(event.type); } });
report.ag_ui = {
  events,
  messages: result.newMessages.map((m) => ({ role: m.role, content: m.content })),
};
process.stdout.write(JSON.stringify(report));
