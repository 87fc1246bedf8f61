// Schedules: cron runs of an agent, pause/resume, run now, and the runs they started.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { agentLabel, busy, errorBox, h, label, listAll, showError, when } from "../ui.js";

async function viewSchedules({ page }) {
  const agents = await listAll("/agents");
  const agent = h("select", { id: "schedule-agent", name: "agent_id", required: true }, agents.map((a) => h("option", { value: a.id }, agentLabel(a))));
  const cron = h("input", { id: "schedule-cron", name: "cron", required: true, value: "0 9 * * 1-5" });
  const timezone = h("input", { id: "schedule-timezone", name: "timezone", required: true, value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const input = h("textarea", { id: "schedule-input", name: "input", rows: 3, required: true });
  const overlap = h("select", { id: "schedule-overlap", name: "overlap" }, h("option", { value: "skip" }, "skip while the previous run is unfinished"), h("option", { value: "queue" }, "queue"));
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const submit = h("button", { type: "submit" }, "Create schedule");
  const form = h("form", { class: "stack", "aria-labelledby": "new-schedule" },
    h("h2", { id: "new-schedule" }, "New schedule"), label("Agent", agent), label("Cron (minute hour day month weekday)", cron),
    label("Time zone (IANA)", timezone), label("Input", input), label("Overlap", overlap), submit);
  const list = h("section", { "aria-label": "Schedules", "aria-live": "polite" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      await busy(submit, () => api.post("/schedules", { agent_id: agent.value, cron: cron.value.trim(), timezone: timezone.value.trim(), input: input.value, overlap: overlap.value }));
      input.value = "";
      await refresh();
    } catch (error) {
      showError(errors, error);
    }
  });
  async function refresh() {
    try {
      const body = await api.get("/schedules" + api.query({ limit: 100 }));
      list.replaceChildren(body.items.length
        ? h("table", {},
            h("thead", {}, h("tr", {}, ["Schedule", "Cron", "Status", "Next run", "Failures", ""].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, body.items.map((s) => h("tr", {},
              h("td", {}, h("a", { href: `#/schedules/${s.id}` }, s.description || s.id.slice(0, 12))),
              h("td", {}, h("code", {}, s.cron), ` ${s.timezone}`),
              h("td", {}, s.status + (s.paused_reason ? ` (${s.paused_reason})` : "")),
              h("td", {}, when(s.next_run_at)), h("td", {}, `${s.consecutive_failures}/${s.max_consecutive_failures}`),
              h("td", {}, s.skipped_occurrences ? `${s.skipped_occurrences} skipped` : "")))))
        : h("p", { class: "muted" }, "No schedules yet."));
    } catch (error) {
      list.replaceChildren(errorBox(error));
    }
  }
  page("Schedules", h("div", { class: "columns" }, h("section", {}, form, errors), list));
  await refresh();
}

async function viewSchedule({ page, params }) {
  const base = `/schedules/${encodeURIComponent(params.id)}`;
  let schedule = await api.get(base);
  const summary = h("dl", {});
  const status = h("p", { role: "status" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const runs = h("section", { "aria-label": "Runs", "aria-live": "polite" });
  const toggle = h("button", { type: "button" });
  const show = () => {
    summary.replaceChildren(
      h("dt", {}, "Agent"), h("dd", {}, h("a", { href: `#/agents/${schedule.agent_id}` }, schedule.agent_id)),
      h("dt", {}, "Cron"), h("dd", {}, h("code", {}, schedule.cron), ` (${schedule.timezone})`),
      h("dt", {}, "Status"), h("dd", {}, schedule.status + (schedule.paused_reason ? ` (${schedule.paused_reason})` : "")),
      h("dt", {}, "Next run"), h("dd", {}, when(schedule.next_run_at)),
      h("dt", {}, "Overlap"), h("dd", {}, `${schedule.overlap} · ${schedule.skipped_occurrences} skipped${schedule.last_skip_reason ? ` (last: ${schedule.last_skip_reason})` : ""}`),
      h("dt", {}, "Consecutive failures"), h("dd", {}, `${schedule.consecutive_failures} of ${schedule.max_consecutive_failures}`));
    toggle.textContent = schedule.status === "active" ? "Pause" : "Resume";
  };
  const action = (button, work) => button.addEventListener("click", async () => {
    showError(errors, null);
    try {
      await busy(button, work);
    } catch (error) {
      showError(errors, error);
    }
  });
  action(toggle, async () => {
    schedule = await api.call("PATCH", base, { body: { enabled: schedule.status !== "active" } });
    show();
  });
  const runNow = h("button", { type: "button" }, "Run now");
  action(runNow, async () => {
    const run = await api.post(`${base}/run-now`);
    status.replaceChildren("Queued ", h("a", { href: `#/runs?run=${run.id}` }, `run ${run.id}`), ".");
    await loadRuns();
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  action(remove, async () => {
    if (!confirm("Delete this schedule? Its runs stay.")) return;
    await api.del(base);
    location.hash = "#/schedules";
  });
  async function loadRuns() {
    const body = await api.get(`${base}/runs` + api.query({ limit: 20 }));
    runs.replaceChildren(body.items.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Run", "Status", "Created", "Finished"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, body.items.map((run) => h("tr", {},
            h("td", {}, h("a", { href: `#/runs?run=${run.id}` }, run.id.slice(0, 12))), h("td", {}, run.status),
            h("td", {}, when(run.created_at)), h("td", {}, when(run.finished_at))))))
      : h("p", { class: "muted" }, "No runs yet."));
  }
  show();
  page(`Schedule ${schedule.description || schedule.id.slice(0, 12)}`, summary, h("div", { class: "row" }, runNow, toggle, remove), status, errors,
    h("h2", {}, "Runs"), runs);
  await loadRuns();
}

registerPage({ path: "/schedules", view: viewSchedules, nav: { label: "Schedules", order: 50 } });
registerPage({ path: "/schedules/:id", view: viewSchedule });
