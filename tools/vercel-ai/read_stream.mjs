// Reads one of our `?format=vercel-ai` streams with the Vercel AI SDK's own client
// (DefaultChatTransport + readUIMessageStream) and prints the final UI message as JSON.
// Usage: node read_stream.mjs <url> <bearer token> <JSON request body> [<JSON message to continue>]
// (useChat continues the assistant message a tool approval paused, as the 4th argument does.)
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [url, token, body, previous] = process.argv.slice(2);
const transport = new DefaultChatTransport({
  api: url,
  headers: { Authorization: `Bearer ${token}` },
  prepareSendMessagesRequest: () => ({ body: JSON.parse(body) }),
});
const stream = await transport.sendMessages({
  chatId: "test",
  messages: [],
  trigger: "submit-message",
  messageId: undefined,
  abortSignal: undefined,
});
let last = null;
const message = previous ? JSON.parse(previous) : undefined;
for await (const update of readUIMessageStream({ stream, message, terminateOnError: true })) last = update;
process.stdout.write(JSON.stringify(last));
