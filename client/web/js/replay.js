// Replay and fork of a run (issue 20): the buttons on a run's page, the fork form (pick a
// request of the recorded conversation, optionally a new prompt and version) and the replay
// report (matched, or where it diverged).
import * as api from "./api.js";
import { TERMINAL_STATUSES, busy, h, label, showError, text } from "./ui.js";

function requestSummary(message) {
  const parts = (message.parts || []).map((p) => {
    if (p.part_kind === "user-prompt") return `prompt: ${text(p.content).slice(0, 80)}`;
    if (p.part_kind === "tool-return") return `result of ${p.tool_name}`;
    if (p.part_kind === "retry-prompt") return "retry";
    return p.part_kind;
  });
  return parts.join(", ") || "request";
}

/** Where this run comes from, and what its replay found. */
export function lineage(run) {
  const rows = [];
  if (run.replay_of) rows.push(h("dt", {}, "Replay of"), h("dd", {}, h("a", { href: `#/runs/${run.replay_of}` }, run.replay_of.slice(0, 8))));
  if (run.fork_of) rows.push(h("dt", {}, "Fork of"), h("dd", {}, h("a", { href: `#/runs/${run.fork_of}` }, run.fork_of.slice(0, 8)), ` at message ${run.fork_at}`));
  const report = run.replay;
  if (report) {
    const d = report.divergence;
    rows.push(h("dt", {}, "Replay"), h("dd", { id: "replay-report" }, report.matched
      ? h("span", { class: "status status-succeeded" }, `matched: ${report.steps_replayed} model responses, ${report.tool_results_replayed} tool results, no model call`)
      : [h("span", { class: "status status-failed" }, `diverged at step ${d ? d.step : "?"}`),
         d ? h("p", {}, `message ${d.message_index}: ${d.reason} — ${d.detail}`) : null,
         d && (d.expected != null || d.actual != null)
           ? h("pre", {}, `expected: ${text(d.expected)}\nactual:   ${text(d.actual)}`) : null]));
  }
  return rows.length ? h("dl", { class: "details" }, rows) : null;
}

/** The Replay and Fork controls of an ended run. */
export function replayControls(run, errors) {
  if (!TERMINAL_STATUSES.has(run.status)) return null;
  const replay = h("button", { type: "button", class: "secondary", id: "replay-run" }, "Replay at $0");
  replay.addEventListener("click", async () => {
    showError(errors, null);
    try {
      const started = await busy(replay, () => api.post(`/runs/${run.id}/replay`, { mode: "async" }));
      location.hash = `#/runs/${started.id}`;
    } catch (error) {
      showError(errors, error);
    }
  });
  const forkButton = h("button", { type: "button", class: "secondary", id: "fork-run" }, "Fork…");
  const holder = h("div", {});
  forkButton.addEventListener("click", async () => {
    showError(errors, null);
    try {
      holder.replaceChildren(await forkForm(run, errors));
      forkButton.hidden = true;
    } catch (error) {
      showError(errors, error);
    }
  });
  return h("div", { class: "stack" }, h("div", { class: "row" }, replay, forkButton), holder);
}

async function forkForm(run, errors) {
  const page = await api.get(`/runs/${run.id}/messages`);
  if (!page.recorded) throw new Error("This run kept no complete recording: it cannot be forked.");
  const requests = page.items.filter((m) => m.kind === "request");
  const at = h("select", { id: "fork-at", name: "at", required: true },
    requests.map((m) => h("option", { value: String(m.index) }, `#${m.index}: ${requestSummary(m.message)}`)));
  const input = h("textarea", { id: "fork-input", name: "input", rows: 3, placeholder: "Leave empty to send that request again" });
  const version = h("input", { id: "fork-version", name: "agent_version", type: "number", min: 1, placeholder: String(run.agent_version) });
  const submit = h("button", { type: "submit" }, "Fork from here");
  const form = h("form", { class: "stack", "aria-labelledby": "fork-heading" },
    h("h2", { id: "fork-heading" }, "Fork this run"),
    h("p", { class: "muted" }, "Keeps the conversation before the chosen request and calls the model again from there."),
    label("From request", at), label("New prompt (optional)", input), label("Agent version (optional)", version), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    const body = { at: Number(at.value), mode: "async" };
    if (input.value.trim()) body.input = input.value;
    if (version.value) body.agent_version = Number(version.value);
    try {
      const started = await busy(submit, () => api.post(`/runs/${run.id}/fork`, body));
      location.hash = `#/runs/${started.id}`;
    } catch (error) {
      showError(errors, error);
    }
  });
  return form;
}
