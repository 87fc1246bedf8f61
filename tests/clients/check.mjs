// Drives the service with official npm clients; prints one JSON report on stdout.
// Usage: node check.mjs <base url> <personal access token> <agent name> <agent id> <careful agent id>
// (the careful agent's grep tool needs approval)
import OpenAI from "openai";
import { HttpAgent, buildResumeArray } from "@ag-ui/client";

const [base, token, agentName, agentId, carefulId] = process.argv.slice(2);
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

// The approval interrupt: the run pauses (RUN_FINISHED with an interrupt outcome), the
// client answers every pending interrupt in `resume`, and the run continues.
const careful = new HttpAgent({
  url: `${base}/ag-ui/${carefulId}`,
  headers: { Authorization: `Bearer ${token}` },
  threadId: "thread-2",
  initialMessages: [
    { id: "h1", role: "user", content: "earlier question" },
    { id: "h2", role: "assistant", content: "earlier answer" },
    { id: "h3", role: "user", content: 'call grep {"pattern": "needs-approval"}' },
  ],
});
const pausedEvents = [];
let finished;
let toolCallParent;
await careful.runAgent({}, {
  onEvent: ({ event }) => {
    pausedEvents.push(event.type);
    if (event.type === "TOOL_CALL_START") toolCallParent = event.parentMessageId;
  },
  onRunFinishedEvent: (params) => { finished = { outcome: params.outcome, interrupts: params.interrupts }; },
});
const pending = careful.pendingInterrupts.map((i) => ({
  id: i.id, reason: i.reason, toolCallId: i.toolCallId, expiresAt: i.expiresAt,
  schemaFields: Object.keys(i.responseSchema?.properties ?? {}).sort(),
}));
let refused;
try {
  await careful.runAgent({});  // a run that leaves the interrupt unanswered
  refused = "accepted";
} catch (error) {
  refused = String(error.message).slice(0, 80);
}
const resume = buildResumeArray(careful.pendingInterrupts, Object.fromEntries(
  careful.pendingInterrupts.map((i) => [i.id, { status: "resolved", payload: { approved: true } }]),
));
const resumedEvents = [];
const resumed = await careful.runAgent({ resume }, { onEvent: ({ event }) => { resumedEvents.push(event.type); } });
// The assistant message the client built for the tool call (no text message carried it).
const callMessage = careful.messages.find((m) => m.toolCalls?.length);
report.ag_ui_approval = {
  paused_events: pausedEvents,
  call_message: callMessage && {
    role: callMessage.role, is_parent: callMessage.id === toolCallParent,
    tools: callMessage.toolCalls.map((t) => t.function.name),
  },
  finished: { outcome: finished?.outcome, count: finished?.interrupts?.length },
  pending,
  refused,
  resumed_events: resumedEvents,
  resumed_messages: resumed.newMessages.map((m) => ({ role: m.role, content: m.content })),
  pending_after: careful.pendingInterrupts.length,
};
process.stdout.write(JSON.stringify(report));
