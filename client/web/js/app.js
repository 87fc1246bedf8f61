// The console: hash routes, one view function per page. DOM is built with h() (never
// innerHTML with API data), so names and outputs from the API cannot inject markup.
import * as api from "./api.js";
import { approvalPanel, decide } from "./approvals.js";

const main = document.getElementById("main");
const announcer = document.getElementById("announcer");
const TERMINAL_EVENTS = new Set(["run.completed", "run.failed", "run.cancelled"]);
const TERMINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);
let pageAbort = new AbortController();

const NEW_AGENT = {
  name: "my-agent",
  display_name: "My agent",
  description: "",
  model: { provider: "vertex-gemini", name: "gemini-2.5-flash", temperature: 0.2 },
  system_prompt: "You are a helpful assistant.",
  tools: [],
  output_schema: null,
  delegates: [],
  limits: { max_requests: 10 },
  metadata: {},
};
const DEFINITION_FIELDS = [
  "name", "display_name", "description", "kind", "model", "system_prompt", "tools",
  "output_schema", "delegates", "workflow", "limits", "metadata",
];

// -- helpers ----------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function announce(message) {
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = message), 50);
}

let routeToken = 0;

/** A page renderer bound to the current route: a view that finishes loading after the user
 *  has navigated elsewhere must not replace the newer page. Call it before the first await. */
function pager() {
  const token = routeToken;
  return (title, ...children) => {
    if (token === routeToken) renderPage(title, ...children);
  };
}

function renderPage(title, ...children) {
  document.title = `${title} · Agents console`;
  main.replaceChildren(h("h1", { id: "page-title" }, title), ...children);
  main.focus({ preventScroll: true });
}

function errorBox(error, id) {
  const box = h("div", { class: "errors", role: "alert", id });
  showError(box, error);
  return box;
}

function showError(box, error) {
  box.replaceChildren();
  if (!error) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.append(h("p", { class: "error" }, error.message || String(error)));
  if (error.fields && error.fields.length) {
    box.append(h("ul", {}, error.fields.map((f) => h("li", {}, h("code", {}, f.loc || "body"), ": ", f.message))));
  }
}

function label(text, control) {
  return h("label", {}, text, control);
}

function when(value) {
  return value ? new Date(value).toLocaleString() : "–";
}

function text(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function agentLabel(agent) {
  return agent.display_name || agent.name;
}

async function busy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

// -- account ------------------------------------------------------------------------------

function renderAccount() {
  const box = document.getElementById("account");
  const current = api.session();
  if (!current) {
    box.replaceChildren(h("a", { href: "#/login" }, "Sign in"));
    return;
  }
  box.replaceChildren(
    h("span", { class: "muted" }, "Signed in as ", h("strong", {}, current.username || "you")),
    h("button", {
      class: "secondary",
      type: "button",
      onclick: async () => {
        await api.logout();
        renderAccount();
        location.hash = "#/login";
      },
    }, "Sign out"),
  );
}

function viewLogin() {
  const page = pager();
  const loginError = h("div", { class: "errors", role: "alert", hidden: true, id: "login-error" });
  const loginForm = h("form", { class: "stack", "aria-labelledby": "login-heading" },
    h("h2", { id: "login-heading" }, "Sign in"),
    label("Username", h("input", { name: "username", autocomplete: "username", required: true })),
    label("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    loginError,
    h("button", { type: "submit" }, "Sign in"),
  );
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(loginForm);
    try {
      await busy(loginForm.querySelector("button"), () => api.login(data.get("username"), data.get("password")));
      renderAccount();
      announce("Signed in");
      location.hash = "#/agents";
    } catch (error) {
      showError(loginError, error);
    }
  });

  const registerError = h("div", { class: "errors", role: "alert", hidden: true, id: "register-error" });
  const registerForm = h("form", { class: "stack", "aria-labelledby": "register-heading" },
    h("h2", { id: "register-heading" }, "Create an account"),
    label("New username", h("input", { name: "username", autocomplete: "username", required: true, minlength: 3 })),
    label("Email", h("input", { name: "email", type: "email", autocomplete: "email", required: true })),
    label("New password", h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
    registerError,
    h("button", { type: "submit" }, "Create account"),
  );
  registerForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(registerForm);
    try {
      await busy(registerForm.querySelector("button"), async () => {
        await api.register(data.get("username"), data.get("email"), data.get("password"));
        await api.login(data.get("username"), data.get("password"));
      });
      renderAccount();
      announce("Account created, signed in");
      location.hash = "#/agents";
    } catch (error) {
      showError(registerError, error);
    }
  });
  page("Sign in", h("div", { class: "columns" }, loginForm, registerForm));
}

// -- agents -------------------------------------------------------------------------------

async function listAll(path) {
  const items = [];
  let cursor = null;
  do {
    const body = await api.get(path + api.query({ limit: 100, cursor }));
    items.push(...(Array.isArray(body) ? body : body.items));
    cursor = Array.isArray(body) ? null : body.next_cursor;
  } while (cursor);
  return items;
}

async function viewAgents() {
  const page = pager();
  page("Agents", h("p", { class: "muted" }, "Loading…"));
  const agents = await listAll("/agents");
  const rows = agents.map((agent) =>
    h("tr", {},
      h("td", {}, h("a", { href: `#/agents/${agent.id}` }, agentLabel(agent))),
      h("td", {}, h("code", {}, agent.name)),
      h("td", {}, String(agent.version)),
      h("td", {}, agent.model ? agent.model.name : agent.kind || "–"),
      h("td", {}, (agent.tools || []).map((t) => t.name).join(", ") || "–"),
      h("td", {}, h("a", { href: `#/chat/${agent.id}`, "aria-label": `Chat with ${agentLabel(agent)}` }, "Chat")),
    ));
  page("Agents",
    h("p", {}, h("a", { href: "#/agents/new" }, "New agent")),
    agents.length
      ? h("table", {},
          h("caption", { class: "visually-hidden" }, "Your agents"),
          h("thead", {}, h("tr", {}, ["Name", "Id name", "Version", "Model", "Tools", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No agents yet. Create one, or install one from the marketplace."),
  );
}

async function viewAgentEditor(agentId) {
  const page = pager();
  const isNew = agentId === "new";
  let agent = null;
  let initial = NEW_AGENT;
  if (!isNew) {
    page("Agent", h("p", { class: "muted" }, "Loading…"));
    agent = await api.get(`/agents/${encodeURIComponent(agentId)}`);
    initial = Object.fromEntries(DEFINITION_FIELDS.filter((k) => k in agent).map((k) => [k, agent[k]]));
  }
  const editor = h("textarea", {
    id: "definition", class: "code", name: "definition", spellcheck: "false",
    "aria-describedby": "definition-help definition-errors",
  });
  editor.value = JSON.stringify(initial, null, 2);
  const errors = h("div", { class: "errors", role: "alert", id: "definition-errors", hidden: true });
  const status = h("p", { role: "status", class: "notice", hidden: true });
  const save = h("button", { type: "submit" }, isNew ? "Create agent" : "Save new version");
  const form = h("form", { "aria-labelledby": "page-title" },
    h("label", { for: "definition" }, "Definition (JSON)"),
    h("p", { id: "definition-help", class: "muted" },
      "The agent definition as JSON (see API.md). Validation errors from the service appear below the editor."),
    editor, errors, h("div", { class: "row" }, save), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    status.hidden = true;
    let definition;
    try {
      definition = JSON.parse(editor.value);
    } catch (error) {
      showError(errors, { message: `Not valid JSON: ${error.message}` });
      editor.focus();
      return;
    }
    try {
      const saved = await busy(save, () =>
        isNew
          ? api.post("/agents", definition, { headers: { "Idempotency-Key": crypto.randomUUID() } })
          : api.put(`/agents/${agent.id}`, definition, { headers: { "If-Match": String(agent.version) } }));
      announce(`Saved ${agentLabel(saved)} version ${saved.version}`);
      if (isNew) {
        location.hash = `#/agents/${saved.id}`;
      } else {
        agent = saved;
        status.hidden = false;
        status.textContent = `Saved version ${saved.version}.`;
      }
    } catch (error) {
      showError(errors, error);
      announce("The definition was not saved");
    }
  });

  const side = isNew
    ? h("aside", { "aria-label": "Help" }, h("h2", {}, "Tips"),
        h("p", {}, "Models: ", h("a", { href: "#/catalog" }, "catalog and tools"), "."))
    : h("aside", { "aria-label": "Agent details" },
        h("h2", {}, "Details"),
        h("dl", {},
          h("dt", {}, "Id"), h("dd", {}, h("code", {}, agent.id)),
          h("dt", {}, "Version"), h("dd", {}, String(agent.version)),
          h("dt", {}, "Updated"), h("dd", {}, when(agent.updated_at)),
          agent.source ? [h("dt", {}, "Installed from"), h("dd", {}, text(agent.source))] : null),
        h("p", {}, h("a", { href: `#/chat/${agent.id}` }, "Chat with this agent")),
        h("button", {
          class: "danger", type: "button",
          onclick: async () => {
            if (!confirm(`Delete ${agentLabel(agent)}?`)) return;
            await api.del(`/agents/${agent.id}`);
            announce("Agent deleted");
            location.hash = "#/agents";
          },
        }, "Delete agent"));
  page(isNew ? "New agent" : `Agent: ${agentLabel(agent)}`, h("div", { class: "columns" }, form, side));
}

async function viewCatalog() {
  const page = pager();
  const [models, tools] = await Promise.all([api.get("/models"), api.get("/tools")]);
  const modelItems = Array.isArray(models) ? models : models.items;
  const toolItems = Array.isArray(tools) ? tools : tools.items;
  page("Models and tools",
    h("h2", {}, "Models"),
    h("ul", {}, modelItems.map((m) => h("li", {}, h("code", {}, `${m.provider} / ${m.name}`), ` ${m.display_name || ""}`, m.available ? "" : " (unavailable)"))),
    h("h2", {}, "Tools"),
    h("ul", {}, toolItems.map((t) => h("li", {}, h("code", {}, t.name), ` — ${t.description || ""}`))));
}

// -- chat ---------------------------------------------------------------------------------

async function viewChat(agentId) {
  const page = pager();
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
      const onEvent = ({ event, data }) => {
        if (event === "run.requires_action") {
          // The run waits for a decision: ask, then stream the continuation into this reply.
          const run = data.run || data;
          meta.textContent = "waiting for your decision";
          const panel = approvalPanel(h, run, (decisions) => {
            panel.remove();
            meta.textContent = "";
            reply.setAttribute("aria-busy", "true");
            decide(run.id, decisions, { onEvent, signal: controller.signal })
              .then(() => announce("Reply complete"))
              .catch((error) => { if (error.name !== "AbortError") showError(errors, error); })
              .finally(() => reply.setAttribute("aria-busy", "false"));
          });
          item.append(panel);
          announce("The agent asks for approval of a tool call");
          return;
        }
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
          meta.textContent = `${run.status} · ${usage.input_tokens || 0}+${usage.output_tokens || 0} tokens · $${(run.cost_usd || 0).toFixed(6)}`;
        }
      };
      await api.streamRun({ agent_id: agentId, input: prompt, session_id: sessionId }, onEvent, controller.signal);
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

// -- runs and batches ----------------------------------------------------------------------

async function watchRun(runId, log, statusLine, signal) {
  let lastId = null;
  for (let attempt = 0; attempt < 50 && !signal.aborted; attempt++) {
    let finished = false;
    try {
      lastId = (await api.streamRunEvents(runId, ({ event, data, id }) => {
        if (id) lastId = id;
        const detail = event === "text.delta" ? JSON.stringify(data.delta) : text(TERMINAL_EVENTS.has(event) ? (data.run || data).status : data).slice(0, 300);
        log.append(h("div", {}, `${id ?? "–"}  ${event}  ${detail}`));
        log.scrollTop = log.scrollHeight;
        if (TERMINAL_EVENTS.has(event)) finished = true;
      }, lastId, signal)) ?? lastId;
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status && error.status !== 503) throw error;
    }
    const run = await api.get(`/runs/${encodeURIComponent(runId)}`);
    statusLine.textContent = `Run ${run.id}: ${run.status}${run.output != null ? ` — ${text(run.output).slice(0, 300)}` : ""}`;
    if (finished || TERMINAL_STATUSES.has(run.status)) return;
    if (run.status === "requires_action") {
      // Ask here; the continuation is queued and this watcher follows it.
      await new Promise((resolve, reject) => {
        const panel = approvalPanel(h, run, (decisions) => {
          panel.remove();
          decide(run.id, decisions, { mode: "async", signal }).then(resolve, reject);
        });
        statusLine.after(panel);
        signal.addEventListener("abort", resolve, { once: true });
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function watchBatch(batchId, meter, statusLine, signal) {
  while (!signal.aborted) {
    const batch = await api.get(`/batches/${encodeURIComponent(batchId)}`);
    const counts = batch.counts || {};
    const done = (counts.succeeded || 0) + (counts.failed || 0) + (counts.cancelled || 0);
    meter.max = batch.total || 1;
    meter.value = done;
    meter.textContent = `${done} of ${batch.total}`;
    statusLine.textContent = `Batch ${batch.id}: ${done}/${batch.total} finished — ${counts.succeeded || 0} succeeded, ${counts.failed || 0} failed, ${counts.running || 0} running, ${counts.queued || 0} queued`;
    if (done >= batch.total && !counts.queued && !counts.running) return batch;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

async function viewRuns(params) {
  const page = pager();
  const signal = pageAbort.signal;
  const runLog = h("div", { class: "events", role: "log", "aria-label": "Run events", tabindex: "0" });
  const runStatus = h("p", { role: "status" });
  const runErrors = h("div", { class: "errors", role: "alert", hidden: true });
  const runInput = h("input", { id: "run-id", name: "run", required: true, value: params.run || "" });
  const runForm = h("form", { class: "stack", "aria-labelledby": "watch-run" },
    h("h2", { id: "watch-run" }, "Watch a run"), label("Run id", runInput), h("button", { type: "submit" }, "Watch"));
  const startRun = (runId) => {
    runLog.replaceChildren();
    showError(runErrors, null);
    watchRun(runId, runLog, runStatus, signal).catch((error) => showError(runErrors, error));
  };
  runForm.addEventListener("submit", (event) => {
    event.preventDefault();
    startRun(runInput.value.trim());
  });

  const meter = h("progress", { id: "batch-progress", max: 1, value: 0, "aria-label": "Batch progress" });
  const batchStatus = h("p", { role: "status" });
  const batchErrors = h("div", { class: "errors", role: "alert", hidden: true });
  const batchInput = h("input", { id: "batch-id", name: "batch", required: true, value: params.batch || "" });
  const batchForm = h("form", { class: "stack", "aria-labelledby": "watch-batch" },
    h("h2", { id: "watch-batch" }, "Watch a batch"), label("Batch id", batchInput), h("button", { type: "submit" }, "Watch"));
  const startBatch = (batchId) => {
    showError(batchErrors, null);
    watchBatch(batchId, meter, batchStatus, signal).catch((error) => showError(batchErrors, error));
  };
  batchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    startBatch(batchInput.value.trim());
  });

  let recent = [];
  try {
    const body = await api.get("/runs" + api.query({ limit: 20 }));
    recent = Array.isArray(body) ? body : body.items;
  } catch (error) {
    recent = [];
  }
  const recentTable = recent.length
    ? h("table", {},
        h("thead", {}, h("tr", {}, ["Run", "Agent", "Mode", "Status", "Created"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, recent.map((run) => h("tr", {},
          h("td", {}, h("a", { href: `#/runs?run=${run.id}` }, run.id.slice(0, 12))),
          h("td", {}, h("code", {}, run.agent_id.slice(0, 12))),
          h("td", {}, run.mode), h("td", {}, run.status), h("td", {}, when(run.created_at))))))
    : h("p", { class: "muted" }, "No runs yet.");
  page("Runs and batches",
    h("div", { class: "columns" },
      h("section", { "aria-label": "Run" }, runForm, runErrors, runStatus, runLog),
      h("section", { "aria-label": "Batch" }, batchForm, batchErrors, meter, batchStatus)),
    h("h2", {}, "Recent runs"), recentTable);
  if (params.run) startRun(params.run);
  if (params.batch) startBatch(params.batch);
}

// -- marketplace --------------------------------------------------------------------------

async function viewMarket(params) {
  const page = pager();
  const q = h("input", { id: "market-q", name: "q", type: "search", value: params.q || "" });
  const category = h("input", { id: "market-category", name: "category", value: params.category || "" });
  const sort = h("select", { id: "market-sort", name: "sort" },
    ["", "rating", "installs", "recent"].map((value) => h("option", { value, selected: value === (params.sort || "") }, value || "relevance")));
  const form = h("form", { role: "search", "aria-label": "Search the marketplace", class: "row" },
    label("Search", q), label("Category", category), label("Sort by", sort), h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = "#/market" + api.query({ q: q.value.trim(), category: category.value.trim(), sort: sort.value });
  });
  const results = h("section", { "aria-label": "Results", "aria-live": "polite" }, h("p", { class: "muted" }, "Searching…"));
  page("Marketplace", form, results);
  try {
    const body = await api.get("/marketplace/listings" + api.query({ q: params.q, category: params.category, sort: params.sort, limit: 50 }));
    const listings = Array.isArray(body) ? body : body.items;
    results.replaceChildren(
      h("p", { class: "muted" }, `${listings.length} listing${listings.length === 1 ? "" : "s"}`),
      h("ul", { class: "cards" }, listings.map((listing) => {
        const stats = listing.stats || {};
        return h("li", { class: "card" },
          h("h2", {}, h("a", { href: `#/market/${listing.id}` }, listing.display_name || listing.name)),
          h("p", {}, listing.summary || listing.description || ""),
          h("p", { class: "muted" },
            `${listing.category} · ★ ${(stats.rating_avg || 0).toFixed(1)} (${stats.rating_count || 0}) · ${stats.installs || 0} installs · by ${listing.owner_username}`));
      })));
  } catch (error) {
    results.replaceChildren(errorBox(error));
  }
}

async function viewListing(listingId) {
  const page = pager();
  const listing = await api.get(`/marketplace/listings/${encodeURIComponent(listingId)}`);
  const stats = listing.stats || {};
  const status = h("p", { role: "status" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const install = h("button", { type: "button" }, "Install");
  install.addEventListener("click", async () => {
    showError(errors, null);
    try {
      const agent = await busy(install, () => api.post(`/marketplace/listings/${listing.id}/install`, undefined, { headers: { "Idempotency-Key": crypto.randomUUID() } }));
      status.replaceChildren("Installed as ", h("a", { href: `#/agents/${agent.id}` }, agentLabel(agent)), ".");
    } catch (error) {
      showError(errors, error);
    }
  });
  const stars = h("select", { id: "rating-stars", name: "stars" }, [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, `${n} star${n > 1 ? "s" : ""}`)));
  const review = h("textarea", { id: "rating-review", name: "review", rows: 2 });
  const rateForm = h("form", { class: "stack", "aria-labelledby": "rate-heading" },
    h("h2", { id: "rate-heading" }, "Rate this agent"), label("Stars", stars), label("Review (optional)", review),
    h("button", { type: "submit" }, "Submit rating"));
  rateForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      const body = { stars: Number(stars.value) };
      if (review.value.trim()) body.review = review.value.trim();
      await busy(rateForm.querySelector("button"), () => api.put(`/marketplace/listings/${listing.id}/ratings/me`, body));
      status.textContent = `Thanks — rated ${body.stars} stars.`;
    } catch (error) {
      showError(errors, error);
    }
  });
  const definition = listing.definition || {};
  page(listing.display_name || listing.name,
    h("p", {}, listing.summary || listing.description || ""),
    h("dl", {},
      h("dt", {}, "Publisher"), h("dd", {}, listing.owner_username),
      h("dt", {}, "Category"), h("dd", {}, listing.category),
      h("dt", {}, "Tags"), h("dd", {}, (listing.tags || []).join(", ") || "–"),
      h("dt", {}, "Version"), h("dd", {}, String(listing.version)),
      h("dt", {}, "Rating"), h("dd", {}, `${(stats.rating_avg || 0).toFixed(2)} from ${stats.rating_count || 0} ratings`),
      h("dt", {}, "Installs / runs"), h("dd", {}, `${stats.installs || 0} / ${stats.runs || 0}`),
      h("dt", {}, "Tools"), h("dd", {}, (definition.tools || []).map((t) => t.name).join(", ") || "none")),
    api.session() ? h("div", { class: "row" }, install) : h("p", {}, h("a", { href: "#/login" }, "Sign in"), " to install or rate."),
    errors, status,
    api.session() ? rateForm : null,
    h("details", {}, h("summary", {}, "Definition"), h("pre", {}, JSON.stringify(definition, null, 2))));
}

// -- routing ------------------------------------------------------------------------------

const routes = [
  [/^#\/login$/, viewLogin, false],
  [/^#\/agents\/?$/, viewAgents, true],
  [/^#\/agents\/([^/]+)$/, viewAgentEditor, true],
  [/^#\/catalog$/, viewCatalog, true],
  [/^#\/chat(?:\/([^/]+))?$/, viewChat, true],
  [/^#\/runs$/, viewRuns, true],
  [/^#\/market$/, viewMarket, false],
  [/^#\/market\/([^/]+)$/, viewListing, false],
];

async function route() {
  routeToken += 1;
  const page = pager();
  pageAbort.abort();
  pageAbort = new AbortController();
  const [path, search] = (location.hash || "#/agents").split("?");
  const params = Object.fromEntries(new URLSearchParams(search || ""));
  for (const link of document.querySelectorAll("nav a")) {
    const active = path.startsWith(link.getAttribute("href"));
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const match = routes.find(([pattern]) => pattern.test(path));
  if (!match) {
    location.hash = api.session() ? "#/agents" : "#/login";
    return;
  }
  const [pattern, view, needsAuth] = match;
  if (needsAuth && !api.session()) {
    location.hash = "#/login";
    return;
  }
  const args = path.match(pattern).slice(1).map((part) => (part ? decodeURIComponent(part) : part));
  try {
    await (args.length ? view(...args, params) : view(params));
  } catch (error) {
    page("Something went wrong", errorBox(error));
  }
}

document.addEventListener("auth-expired", () => {
  renderAccount();
  if (!api.session()) location.hash = "#/login";
});
window.addEventListener("hashchange", route);
renderAccount();
route();
