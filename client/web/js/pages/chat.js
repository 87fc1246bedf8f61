// Chat with an agent: past conversations on the side (reopen one and continue it), replies
// streamed in and rendered as Markdown (safely), tool calls collapsible, Stop cancels the run
// on the server.
import * as api from "../api.js";
import { approvalPanel, decide } from "../approvals.js";
import { renderMarkdown } from "../markdown.js";
import { registerPage } from "../router.js";
import { TERMINAL_EVENTS, TERMINAL_STATUSES, agentLabel, announce, finishNote, h, items, label, listAll, money, plural, showError, text, when } from "../ui.js";

// After Stop the server ends the run at its next step (after the current model call); the
// stream then ends with run.cancelled. Past this, the console polls the run instead.
const CANCEL_WAIT_MS = 120000;

function toolDetails(name, args, result) {
  const details = h("details", { class: "tool" },
    h("summary", {}, `→ ${name}(${text(args).replace(/\s+/g, " ").slice(0, 80)})`),
    h("pre", {}, text(args)));
  if (result !== undefined) details.append(h("pre", { class: "tool-result" }, `← ${text(result).slice(0, 2000)}`));
  return details;
}

function userBubble(content) {
  return h("li", { class: "message user" }, h("span", { class: "who" }, "You"), content);
}

function assistantBubble() {
  const tools = h("div", { class: "tools" });
  const working = h("p", { class: "working", role: "status" }, "Working…");
  const reply = h("div", { class: "reply", "aria-live": "polite", "aria-busy": "true" });
  const meta = h("p", { class: "muted meta" });
  const item = h("li", { class: "message assistant" }, h("span", { class: "who" }, "Agent"), tools, working, reply, meta);
  return { item, tools, working, reply, meta };
}

/** A stored conversation as bubbles (tool calls folded into the next agent bubble). */
function renderHistory(transcript, messages) {
  let bubble = null;
  const pendingCalls = [];
  for (const message of messages) {
    if (message.role === "user") {
      bubble = null;
      transcript.append(userBubble(message.content));
      continue;
    }
    if (!bubble) {
      bubble = assistantBubble();
      bubble.working.remove();
      bubble.reply.setAttribute("aria-busy", "false");
      transcript.append(bubble.item);
    }
    if (message.role === "tool_call") {
      const details = toolDetails(message.name || "tool", message.content);
      pendingCalls.push(details);
      bubble.tools.append(details);
    } else if (message.role === "tool") {
      const call = pendingCalls.shift();
      const result = h("pre", { class: "tool-result" }, `← ${text(message.content).slice(0, 2000)}`);
      if (call) call.append(result);
      else bubble.tools.append(toolDetails(message.name || "tool", "", message.content));
    } else {
      bubble.reply.replaceChildren(renderMarkdown(message.content));
    }
  }
}

async function viewChat({ page, params, query }) {
  let agentId = params.agent;
  const agents = await listAll("/agents");
  if (!agentId && agents.length) agentId = agents[0].id;
  if (!agents.length) {
    page("Chat", h("p", {}, "You have no agents yet. ", h("a", { href: "#/agents/new" }, "Create one"), "."));
    return;
  }
  const picker = h("select", { id: "chat-agent", name: "agent" },
    agents.map((a) => h("option", { value: a.id, selected: a.id === agentId }, agentLabel(a))));
  picker.addEventListener("change", () => (location.hash = `#/chat/${picker.value}`));

  let sessionId = query.session || null;
  const transcript = h("ol", { class: "transcript", "aria-label": "Conversation" });
  const input = h("textarea", { id: "chat-input", name: "message", rows: 3, required: true });
  const send = h("button", { type: "submit" }, "Send");
  const stop = h("button", { type: "button", class: "secondary", hidden: true }, "Stop");
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const form = h("form", { "aria-label": "Send a message" },
    label("Message", input), errors, h("div", { class: "row" }, send, stop));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  const history = h("ul", { class: "sessions" });
  const refreshSessions = async () => {
    const sessions = items(await api.get("/sessions" + api.query({ agent_id: agentId, limit: 20 })));
    history.replaceChildren(...(sessions.length
      ? sessions.map((s) => h("li", {},
          h("a", { href: `#/chat/${agentId}?session=${s.id}`, "aria-current": s.id === sessionId ? "true" : null },
            s.title || "Untitled conversation"),
          h("span", { class: "muted" }, ` · ${plural(s.message_count || 0, "message")} · ${when(s.updated_at)}`)))
      : [h("li", { class: "muted" }, "No past conversations yet.")]));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = input.value.trim();
    if (!prompt) return;
    showError(errors, null);
    input.value = "";
    transcript.append(userBubble(prompt));
    const bubble = assistantBubble();
    transcript.append(bubble.item);
    const controller = new AbortController();
    let runId = null;
    let stopping = false;
    let streamed = "";
    const calls = new Map();
    const cancelRun = async () => {
      try {
        await api.post(`/runs/${runId}/cancel`);
      } catch (error) {
        showError(errors, error);
      }
    };
    stop.hidden = false;
    stop.disabled = false;
    stop.onclick = async () => {
      stopping = true;
      stop.disabled = true;
      bubble.working.hidden = false;
      bubble.working.textContent = "Stopping… (the run stops at its next step)";
      if (runId) await cancelRun();
      // else: cancelled as soon as run.started tells the run's id
      // The stream ends with run.cancelled once the server stopped the run; do not wait forever.
      setTimeout(() => controller.abort(), CANCEL_WAIT_MS);
    };
    send.disabled = true;
    let final = null;
    try {
      if (!sessionId) {
        sessionId = (await api.post("/sessions", { agent_id: agentId, title: prompt.slice(0, 80) })).id;
        history.dataset.stale = "1";
      }
      let streaming = null;
      const onEvent = ({ event, data }) => {
        if (event === "run.requires_action") {
          // The run waits for a decision (#16): ask, then stream the continuation into this reply.
          const run = data.run || data;
          bubble.working.textContent = "Waiting for your decision";
          const panel = approvalPanel(h, run, (decisions) => {
            panel.remove();
            bubble.working.textContent = "Working…";
            streaming = decide(run.id, decisions, { onEvent, signal: controller.signal });
          });
          bubble.item.append(panel);
          announce("The agent asks for approval of a tool call");
          return;
        }
        if (event === "run.started") {
          runId = (data.run || data).id;
          if (stopping) cancelRun();
        }
        else if (event === "text.delta") {
          bubble.working.hidden = true;
          streamed += data.delta;
          bubble.reply.append(data.delta);
        } else if (event === "tool.call") {
          bubble.working.textContent = `Working… (${data.name})`;
          const details = toolDetails(data.name, data.args);
          details.dataset.toolCall = data.tool_call_id;
          calls.set(data.tool_call_id, details);
          bubble.tools.append(details);
        } else if (event === "tool.result") {
          const details = calls.get(data.tool_call_id);
          const result = h("pre", { class: "tool-result" }, `← ${text(data.content).slice(0, 2000)}`);
          if (details) details.append(result);
          else bubble.tools.append(toolDetails(data.name, "", data.content));
        } else if (TERMINAL_EVENTS.has(event)) {
          final = data.run || data;
        }
      };
      await api.streamRun({ agent_id: agentId, input: prompt, session_id: sessionId }, onEvent, controller.signal);
      // A decision continues the run in another stream; wait for it (and any later one).
      while (!final && !controller.signal.aborted) {
        if (streaming) {
          const current = streaming;
          streaming = null;
          await current;
        } else if (bubble.item.querySelector(".approval")) {
          await new Promise((resolve) => setTimeout(resolve, 300));
        } else break;
      }
    } catch (error) {
      if (error.name !== "AbortError") showError(errors, error);
    }
    for (let i = 0; !final && runId && stopping && i < 60; i++) {
      try {
        const run = await api.get(`/runs/${runId}`);
        if (TERMINAL_STATUSES.has(run.status)) final = run;
        else await new Promise((resolve) => setTimeout(resolve, 1000));
      } catch {
        break; // reported below as not confirmed
      }
    }
    if (final) {
      const output = final.output;
      const replyText = streamed || (typeof output === "string" ? output : output != null ? text(output) : "");
      bubble.reply.replaceChildren(typeof output === "object" && output !== null && !streamed
        ? h("pre", {}, replyText) : renderMarkdown(replyText));
      const usage = final.usage || {};
      bubble.meta.textContent = `${final.status} · ${usage.input_tokens || 0}+${usage.output_tokens || 0} tokens · ${plural(usage.requests || 0, "request")} · ${money(final.cost_usd || 0)}${finishNote(final)}`;
      if (final.status === "cancelled") {
        bubble.item.classList.add("cancelled");
        bubble.meta.textContent = `Stopped: run ${final.id} was cancelled on the server · ${money(final.cost_usd || 0)}`;
      } else if (final.status !== "succeeded") {
        const reason = final.error ? `${final.error.message} (${final.error.code})` : final.status;
        showError(errors, { message: `Run ${final.status}: ${reason}` });
      }
    } else if (stopping) {
      bubble.meta.textContent = runId ? `Stop requested for run ${runId}; its final status is not confirmed yet.` : "Stopped before the run started.";
    }
    bubble.working.remove();
    bubble.reply.setAttribute("aria-busy", "false");
    send.disabled = false;
    stop.hidden = true;
    announce(final && final.status === "cancelled" ? "Run cancelled" : "Reply complete");
    input.focus();
    refreshSessions().catch(() => {});
  });

  const current = agents.find((a) => a.id === agentId);
  const side = h("aside", { "aria-labelledby": "sessions-heading", class: "chat-side" },
    h("h2", { id: "sessions-heading" }, "Past conversations"), history,
    h("p", {}, h("a", { href: "#/sessions" }, "All conversations")));
  page(`Chat: ${current ? agentLabel(current) : "agent"}`,
    h("div", { class: "row" }, label("Agent", picker),
      h("button", {
        type: "button", class: "secondary",
        onclick: () => {
          sessionId = null;
          transcript.replaceChildren();
          if (query.session) location.hash = `#/chat/${agentId}`;
          announce("New conversation");
        },
      }, "New conversation")),
    h("div", { class: "columns" }, h("section", { "aria-label": "Chat" }, transcript, form), side));
  await refreshSessions().catch(() => {});
  if (sessionId) {
    const detail = await api.get(`/sessions/${encodeURIComponent(sessionId)}`);
    renderHistory(transcript, detail.messages || []);
    announce(`Reopened ${detail.session.title || "conversation"}`);
  }
}

registerPage({ path: "/chat/:agent?", view: viewChat, nav: { label: "Chat", order: 20, href: "#/chat" } });
