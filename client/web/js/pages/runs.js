// Runs and batches: watch a run's events live, a batch's progress, recent runs.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { TERMINAL_EVENTS, TERMINAL_STATUSES, finishNote, h, label, showError, text, when } from "../ui.js";

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
    statusLine.textContent = `Run ${run.id}: ${run.status}${finishNote(run)}${run.output != null ? ` — ${text(run.output).slice(0, 300)}` : ""}`;
    if (finished || TERMINAL_STATUSES.has(run.status)) return;
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

async function viewRuns({ page, query: params, signal }) {
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

registerPage({ path: "/runs", view: viewRuns, nav: { label: "Runs & batches", order: 30 } });
