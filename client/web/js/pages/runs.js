// Runs and batches: start async runs and batches, the runs list (filterable), a run's page
// (status and failure reason, output, artifacts, live events) and a batch's results.
import * as api from "../api.js";
import { approvalPanel, decide } from "../approvals.js";
import { lineage, replayControls } from "../replay.js";
import { registerPage } from "../router.js";
import { TERMINAL_EVENTS, TERMINAL_STATUSES, agentLabel, busy, finishNote, h, items, label, listAll, money, showError, text, when } from "../ui.js";
import { encodePath, saveAs } from "./files.js";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];

export function inputText(input) {
  if (typeof input === "string") return input;
  if (Array.isArray(input)) return input.map((p) => (p.type === "text" ? p.text : `[${p.type}]`)).join(" ");
  return text(input);
}

export function duration(run) {
  if (!run.started_at) return "–";
  const end = run.finished_at ? new Date(run.finished_at) : new Date();
  const seconds = (end - new Date(run.started_at)) / 1000;
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function statusCell(run) {
  const cell = [h("span", { class: `status status-${run.status}` }, run.status)];
  if (run.error) cell.push(h("span", { class: "error-reason" }, ` ${run.error.code}: ${run.error.message}`));
  const note = finishNote(run);
  if (note) cell.push(h("span", { class: "finish-note" }, note));
  return cell;
}

export function runsTable(runs, names, caption) {
  return h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Run", "Agent", "Input", "Status", "Duration", "Cost", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, runs.map((run) => h("tr", {},
      h("td", { "data-label": "Run" }, h("a", { href: `#/runs/${run.id}` }, run.id.slice(0, 8))),
      h("td", { "data-label": "Agent" }, names.get(run.agent_id) || "a deleted agent"),
      h("td", { "data-label": "Input", class: "clip" }, inputText(run.input).slice(0, 120)),
      h("td", { "data-label": "Status" }, statusCell(run)),
      h("td", { "data-label": "Duration" }, duration(run)),
      h("td", { "data-label": "Cost" }, money(run.cost_usd)),
      h("td", { "data-label": "Created" }, when(run.created_at)))))));
}

async function agentNames() {
  const agents = await listAll("/agents");
  return { agents, names: new Map(agents.map((a) => [a.id, agentLabel(a)])) };
}

function agentPicker(agents, id, selected) {
  return h("select", { id, name: "agent_id", required: true },
    agents.map((a) => h("option", { value: a.id, selected: a.id === selected }, agentLabel(a))));
}

async function viewRuns({ page, query }) {
  if (query.run) {
    location.hash = `#/runs/${query.run}`;
    return;
  }
  if (query.batch) {
    location.hash = `#/batches/${query.batch}`;
    return;
  }
  page("Runs and batches", h("p", { class: "muted" }, "Loading…"));
  const { agents, names } = await agentNames();

  // Start an async run.
  const runErrors = h("div", { class: "errors", role: "alert", hidden: true });
  const runAgent = agentPicker(agents, "run-agent", query.agent_id);
  const runInput = h("textarea", { id: "run-input", name: "input", rows: 3, required: true });
  const queue = h("button", { type: "submit" }, "Queue run");
  const runForm = h("form", { class: "stack", "aria-labelledby": "start-run" },
    h("h2", { id: "start-run" }, "Start an async run"), label("Agent", runAgent), label("Input", runInput), runErrors, queue);
  runForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(runErrors, null);
    try {
      const run = await busy(queue, () => api.post("/runs", {
        agent_id: runAgent.value, input: runInput.value, mode: "async", idempotency_key: crypto.randomUUID(),
      }));
      location.hash = `#/runs/${run.id}`;
    } catch (error) {
      showError(runErrors, error);
    }
  });

  // Submit a batch: one input per line.
  const batchErrors = h("div", { class: "errors", role: "alert", hidden: true });
  const batchAgent = agentPicker(agents, "batch-agent", query.agent_id);
  const batchInputs = h("textarea", { id: "batch-inputs", name: "inputs", rows: 4, required: true, "aria-describedby": "batch-help" });
  const submit = h("button", { type: "submit" }, "Submit batch");
  const batchForm = h("form", { class: "stack", "aria-labelledby": "start-batch" },
    h("h2", { id: "start-batch" }, "Submit a batch"), label("Agent", batchAgent),
    label("Inputs", batchInputs), h("p", { id: "batch-help", class: "muted" }, "One input per line (1–1000)."), batchErrors, submit);
  batchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(batchErrors, null);
    const inputs = batchInputs.value.split("\n").map((line) => line.trim()).filter(Boolean);
    try {
      const batch = await busy(submit, () => api.post("/batches", {
        agent_id: batchAgent.value, inputs, idempotency_key: crypto.randomUUID(),
      }));
      location.hash = `#/batches/${batch.id}`;
    } catch (error) {
      showError(batchErrors, error);
    }
  });

  // The list, filtered by agent and status.
  const filterAgent = h("select", { id: "filter-agent", name: "agent_id" },
    h("option", { value: "" }, "All agents"),
    agents.map((a) => h("option", { value: a.id, selected: a.id === query.agent_id }, agentLabel(a))));
  const filterStatus = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === query.status }, s)));
  const filter = h("form", { class: "row", role: "search", "aria-label": "Filter runs" },
    label("Agent", filterAgent), label("Status", filterStatus), h("button", { type: "submit", class: "secondary" }, "Filter"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = "#/runs" + api.query({ agent_id: filterAgent.value, status: filterStatus.value });
  });
  const runs = items(await api.get("/runs" + api.query({ agent_id: query.agent_id, status: query.status, limit: 50 })));
  page("Runs and batches",
    agents.length ? h("div", { class: "columns even" }, runForm, batchForm) : h("p", {}, h("a", { href: "#/agents/new" }, "Create an agent"), " to run it."),
    h("h2", {}, "Runs"), filter,
    runs.length ? runsTable(runs, names, "Runs") : h("p", { class: "muted" }, "No runs match."));
}

async function watchEvents(runId, log, signal, onEnd) {
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
    if (finished || TERMINAL_STATUSES.has(run.status)) {
      onEnd(run);
      return;
    }
    if (run.status === "requires_action") {
      // Ask here (#16); the continuation is queued and this watcher follows it.
      await new Promise((resolve, reject) => {
        const panel = approvalPanel(h, run, (decisions) => {
          panel.remove();
          decide(run.id, decisions, { mode: "async", signal }).then(resolve, reject);
        });
        log.before(panel);
        signal.addEventListener("abort", resolve, { once: true });
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function runDetails(run, names) {
  const error = run.error;
  return h("dl", { class: "details" },
    h("dt", {}, "Agent"), h("dd", {}, h("a", { href: `#/agents/${run.agent_id}` }, names.get(run.agent_id) || run.agent_id), ` (version ${run.agent_version})`),
    h("dt", {}, "Status"), h("dd", { id: "run-status" }, h("span", { role: "status" }, statusCell(run))),
    error ? [h("dt", {}, "Failure reason"), h("dd", {}, h("code", {}, error.code), ` ${error.message}`)] : null,
    run.finish_reason ? [h("dt", {}, "Finish reason"), h("dd", { id: "run-finish" }, run.finish_reason)] : null,
    h("dt", {}, "Mode"), h("dd", {}, run.mode),
    h("dt", {}, "Input"), h("dd", {}, h("pre", {}, inputText(run.input))),
    h("dt", {}, "Duration"), h("dd", {}, duration(run)),
    h("dt", {}, "Cost"), h("dd", {}, money(run.cost_usd)),
    h("dt", {}, "Usage"), h("dd", {}, `${(run.usage || {}).requests || 0} requests, ${(run.usage || {}).input_tokens || 0}+${(run.usage || {}).output_tokens || 0} tokens`),
    run.session_id ? [h("dt", {}, "Conversation"), h("dd", {}, h("a", { href: `#/chat/${run.agent_id}?session=${run.session_id}` }, "Reopen"))] : null,
    h("dt", {}, "Created"), h("dd", {}, when(run.created_at)));
}

function artifactsList(run, errors) {
  const artifacts = run.artifacts || [];
  return h("section", { "aria-labelledby": "artifacts-heading" },
    h("h2", { id: "artifacts-heading" }, "Artifacts"),
    artifacts.length
      ? h("ul", { class: "artifacts" }, artifacts.map((a) => h("li", {},
          h("a", {
            href: "#",
            onclick: (event) => {
              event.preventDefault();
              saveAs(`/runs/${run.id}/artifacts/${encodePath(a.path)}`, a.path).catch((e) => showError(errors, e));
            },
          }, a.path), h("span", { class: "muted" }, ` · ${a.size} bytes`))))
      : h("p", { class: "muted" }, "This run wrote no files."));
}

async function viewRun({ page, params, signal }) {
  const { names } = await agentNames();
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const log = h("div", { class: "events", role: "log", "aria-label": "Run events", tabindex: "0" });
  const render = (run) => {
    const cancel = TERMINAL_STATUSES.has(run.status) ? null : h("button", {
      type: "button", class: "secondary",
      onclick: async () => {
        try {
          render(await api.post(`/runs/${run.id}/cancel`));
        } catch (error) {
          showError(errors, error);
        }
      },
    }, "Cancel run");
    page(`Run ${run.id.slice(0, 8)}`, errors, runDetails(run, names), lineage(run), cancel, replayControls(run, errors),
      h("h2", {}, "Output"), run.output == null ? h("p", { class: "muted" }, TERMINAL_STATUSES.has(run.status) ? "No output." : "Not finished yet.") : h("pre", { id: "run-output" }, text(run.output)),
      artifactsList(run, errors), h("h2", {}, "Events"), log);
  };
  const run = await api.get(`/runs/${encodeURIComponent(params.id)}`);
  render(run);
  watchEvents(run.id, log, signal, render).catch((error) => showError(errors, error));
}

async function viewBatch({ page, params, signal }) {
  const { names } = await agentNames();
  const meter = h("progress", { id: "batch-progress", max: 1, value: 0, "aria-label": "Batch progress" });
  const status = h("p", { role: "status" });
  const results = h("section", { "aria-labelledby": "results-heading" });
  page(`Batch ${params.id.slice(0, 8)}`, meter, status, results);
  while (!signal.aborted) {
    const batch = await api.get(`/batches/${encodeURIComponent(params.id)}`);
    const counts = batch.counts || {};
    const done = (counts.succeeded || 0) + (counts.failed || 0) + (counts.cancelled || 0);
    meter.max = batch.total || 1;
    meter.value = done;
    meter.textContent = `${done} of ${batch.total}`;
    status.textContent = `${names.get(batch.agent_id) || "agent"}: ${done}/${batch.total} finished — ${counts.succeeded || 0} succeeded, ${counts.failed || 0} failed, ${counts.running || 0} running, ${counts.queued || 0} queued · ${money(batch.cost_usd)}`;
    const runs = await listAll(`/batches/${encodeURIComponent(params.id)}/runs`);
    results.replaceChildren(h("h2", { id: "results-heading" }, "Results"),
      h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone" },
        h("thead", {}, h("tr", {}, ["Input", "Output or failure", "Status", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, runs.map((run) => h("tr", {},
          h("td", { "data-label": "Input", class: "clip" }, inputText(run.input)),
          h("td", { "data-label": "Output" }, run.error ? h("span", { class: "error-reason" }, `${run.error.code}: ${run.error.message}`) : text(run.output).slice(0, 500)),
          h("td", { "data-label": "Status" }, h("a", { href: `#/runs/${run.id}` }, run.status), finishNote(run)),
          h("td", { "data-label": "Cost" }, money(run.cost_usd))))))));
    if (done >= batch.total && !counts.queued && !counts.running) return;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

registerPage({ path: "/runs", view: viewRuns, nav: { label: "Runs & batches", order: 30 } });
registerPage({ path: "/runs/:id", view: viewRun });
registerPage({ path: "/batches/:id", view: viewBatch });
