// Chat with an agent: a session is created on the first message; replies stream in.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { TERMINAL_EVENTS, agentLabel, announce, finishNote, h, label, listAll, money, showError, text } from "../ui.js";

async function viewChat({ page, params }) {
  let agentId = params.agent;
  const agents = await listAll("/agents");
  if (!agentId && agents.length) agentId = agents[0].id;
  const picker = h("select", { id: "chat-agent", name: "agent" },
    agents.map((a) => h("option", { value: a.id, selected: a.id === agentId }, agentLabel(a))));
  picker.addEventListener("change", () => (location.hash = `#/chat/${picker.value}`));
  if (!agents.length) {
    page("Chat", h("p", {}, "You have no agents yet. ", h("a", { href: "#/agents/new" }, "Create one"), "."));
    return;
  }
  let sessionId = null;
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
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = input.value.trim();
    if (!prompt) return;
    showError(errors, null);
    input.value = "";
    transcript.append(h("li", { class: "message user" }, h("span", { class: "who" }, "You"), prompt));
    const reply = h("div", { class: "reply", "aria-live": "polite", "aria-busy": "true" });
    const tools = h("div", { class: "tools" });
    const meta = h("p", { class: "muted" });
    const item = h("li", { class: "message assistant" }, h("span", { class: "who" }, "Agent"), tools, reply, meta);
    transcript.append(item);
    const controller = new AbortController();
    stop.hidden = false;
    stop.onclick = () => controller.abort();
    send.disabled = true;
    try {
      if (!sessionId) sessionId = (await api.post("/sessions", { agent_id: agentId })).id;
      await api.streamRun({ agent_id: agentId, input: prompt, session_id: sessionId }, ({ event, data }) => {
        if (event === "text.delta") reply.append(data.delta);
        else if (event === "tool.call") {
          tools.append(h("div", { class: "tool", "data-tool-call": data.tool_call_id }, `→ ${data.name}(${text(data.args)})`));
        } else if (event === "tool.result") {
          tools.append(h("div", { class: "tool" }, `← ${data.name}: ${text(data.content).slice(0, 500)}`));
        } else if (TERMINAL_EVENTS.has(event)) {
          const run = data.run || data;
          if (!reply.textContent && run.output !== null && run.output !== undefined) reply.textContent = text(run.output);
          if (run.status !== "succeeded") {
            showError(errors, { message: `Run ${run.status}: ${(run.error && run.error.message) || ""}` });
          }
          const usage = run.usage || {};
          meta.textContent = `${run.status} · ${usage.input_tokens || 0}+${usage.output_tokens || 0} tokens · ${money(run.cost_usd || 0)}${finishNote(run)}`;
        }
      }, controller.signal);
      announce("Reply complete");
    } catch (error) {
      if (error.name !== "AbortError") showError(errors, error);
    } finally {
      reply.setAttribute("aria-busy", "false");
      send.disabled = false;
      stop.hidden = true;
      input.focus();
    }
  });
  const current = agents.find((a) => a.id === agentId);
  page(`Chat: ${current ? agentLabel(current) : "agent"}`,
    h("div", { class: "row" }, label("Agent", picker),
      h("button", { type: "button", class: "secondary", onclick: () => { sessionId = null; transcript.replaceChildren(); announce("New conversation"); } }, "New conversation")),
    h("section", { "aria-label": "Chat" }, transcript, form));
}

registerPage({ path: "/chat/:agent?", view: viewChat, nav: { label: "Chat", order: 20, href: "#/chat" } });
