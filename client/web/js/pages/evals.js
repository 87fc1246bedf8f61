// Evals (issue 20): my evals with a pass-rate chart across versions per agent and dataset, an
// eval's results table, and the comparison of two evals of the same dataset.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { agentLabel, h, label, listAll, money, showError, when } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";

function percent(value) {
  return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "–";
}

function ms(value) {
  return typeof value === "number" ? `${Math.round(value)} ms` : "–";
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children.flat()) if (child) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** The newest completed eval of each version, oldest version first. */
export function passRateSeries(evals) {
  const byVersion = new Map();
  for (const ev of evals) {
    if (ev.status !== "completed" || !ev.summary) continue;
    const seen = byVersion.get(ev.agent_version);
    if (!seen || new Date(ev.created_at) > new Date(seen.created_at)) byVersion.set(ev.agent_version, ev);
  }
  return [...byVersion.values()].sort((a, b) => a.agent_version - b.agent_version);
}

/** A bar per version (height = pass rate), with the value as text: readable without colour. */
function passRateChart(title, series) {
  const width = Math.max(240, 70 * series.length + 40), height = 170, base = 140, top = 20;
  const bars = series.map((ev, i) => {
    const x = 40 + i * 70, rate = ev.summary.pass_rate, barHeight = (base - top) * rate;
    return svg("g", { class: "bar" },
      svg("title", {}, `version ${ev.agent_version}: ${percent(rate)} pass rate (${ev.summary.runs} runs)`),
      svg("rect", { x, y: base - barHeight, width: 40, height: Math.max(barHeight, 1), class: "bar-fill" }),
      svg("text", { x: x + 20, y: base - barHeight - 4, "text-anchor": "middle" }, percent(rate)),
      svg("text", { x: x + 20, y: base + 16, "text-anchor": "middle" }, `v${ev.agent_version}`));
  });
  return h("figure", { class: "chart" },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `${title}: pass rate by version, ${series.map((ev) => `v${ev.agent_version} ${percent(ev.summary.pass_rate)}`).join(", ")}` },
      svg("line", { x1: 30, y1: base, x2: width - 5, y2: base, class: "axis" }),
      svg("text", { x: 2, y: top + 4 }, "100%"), svg("text", { x: 8, y: base }, "0%"), bars),
    h("figcaption", {}, title));
}

function evalsTable(evals, names) {
  return h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone", id: "evals-table" },
    h("caption", { class: "visually-hidden" }, "Evals"),
    h("thead", {}, h("tr", {}, ["Eval", "Agent", "Version", "Dataset", "Status", "Scored", "Pass rate", "$ / run", "p50", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, evals.map((ev) => h("tr", {},
      h("td", { "data-label": "Eval" }, h("a", { href: `#/evals/${ev.id}` }, ev.id.slice(0, 8))),
      h("td", { "data-label": "Agent" }, names.get(ev.agent_id) || ev.agent_id),
      h("td", { "data-label": "Version" }, `v${ev.agent_version}`),
      h("td", { "data-label": "Dataset" }, ev.dataset_name),
      h("td", { "data-label": "Status" }, ev.status),
      h("td", { "data-label": "Scored" }, `${ev.counts.scored}/${ev.counts.total}`),
      h("td", { "data-label": "Pass rate" }, percent(ev.summary && ev.summary.pass_rate)),
      h("td", { "data-label": "$ / run" }, money(ev.summary && ev.summary.cost_per_run_usd)),
      h("td", { "data-label": "p50" }, ms(ev.summary && ev.summary.p50_latency_ms)),
      h("td", { "data-label": "Created" }, when(ev.created_at)))))));
}

function compareForm(evals, names) {
  const completed = evals.filter((ev) => ev.status === "completed");
  if (completed.length < 2) return null;
  const option = (ev) => h("option", { value: ev.id }, `${names.get(ev.agent_id) || "agent"} v${ev.agent_version} · ${ev.dataset_name} · ${when(ev.created_at)}`);
  const base = h("select", { id: "compare-base", name: "base", required: true }, completed.map(option));
  const head = h("select", { id: "compare-head", name: "head", required: true }, completed.map(option));
  if (completed.length > 1) base.selectedIndex = 1;
  const form = h("form", { class: "row", "aria-labelledby": "compare-heading" },
    h("h2", { id: "compare-heading" }, "Compare two evals"), label("Base", base), label("Head", head),
    h("button", { type: "submit" }, "Compare"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/evals/${head.value}/compare/${base.value}`;
  });
  return form;
}

async function viewEvals({ page, query }) {
  page("Evals", h("p", { class: "muted" }, "Loading…"));
  const agents = await listAll("/agents");
  const names = new Map(agents.map((a) => [a.id, agentLabel(a)]));
  const evals = await listAll("/evals", { agent_id: query.agent_id });
  const groups = new Map();
  for (const ev of evals) {
    const key = `${ev.agent_id}|${ev.dataset_id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(ev);
  }
  const charts = [...groups.values()].map((group) => [group[0], passRateSeries(group)])
    .filter(([, series]) => series.length)
    .map(([ev, series]) => passRateChart(`${names.get(ev.agent_id) || "agent"} on ${ev.dataset_name}`, series));
  page("Evals",
    h("p", { class: "muted" }, "Start evals with ", h("code", {}, "agentctl evals run AGENT DATASET"), " or POST /evals."),
    charts.length ? h("section", { "aria-labelledby": "charts-heading" }, h("h2", { id: "charts-heading" }, "Pass rate across versions"), h("div", { class: "charts" }, charts)) : null,
    compareForm(evals, names),
    h("h2", {}, "Evals"),
    evals.length ? evalsTable(evals, names) : h("p", { class: "muted" }, "No evals yet."));
}

function resultsTable(results) {
  return h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone", id: "results-table" },
    h("caption", { class: "visually-hidden" }, "Results per case"),
    h("thead", {}, h("tr", {}, ["Case", "Repeat", "Result", "Score", "Why", "Cost", "Latency", "Run"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, results.map((r) => h("tr", {},
      h("td", { "data-label": "Case" }, r.case_name),
      h("td", { "data-label": "Repeat" }, String(r.repeat_index)),
      h("td", { "data-label": "Result" }, h("span", { class: `status status-${r.passed ? "succeeded" : "failed"}` }, r.passed ? "pass" : "fail")),
      h("td", { "data-label": "Score" }, r.score.toFixed(2)),
      h("td", { "data-label": "Why" }, h("ul", { class: "plain" }, r.evaluators.map((e) => h("li", {}, `${e.passed ? "✓" : "✗"} ${e.name}${e.reason ? `: ${e.reason}` : ""}`)),
        r.error ? h("li", {}, `run ${r.run_status}: ${r.error.code}`) : null)),
      h("td", { "data-label": "Cost" }, money(r.cost_usd)),
      h("td", { "data-label": "Latency" }, ms(r.duration_ms)),
      h("td", { "data-label": "Run" }, h("a", { href: `#/runs/${r.run_id}` }, r.run_id.slice(-4))))))));
}

async function viewEval({ page, params, signal }) {
  while (!signal.aborted) {
    const ev = await api.get(`/evals/${encodeURIComponent(params.id)}`);
    const results = await listAll(`/evals/${encodeURIComponent(params.id)}/results`);
    const s = ev.summary;
    page(`Eval ${ev.id.slice(0, 8)}`,
      h("dl", { class: "details" },
        h("dt", {}, "Agent"), h("dd", {}, h("a", { href: `#/agents/${ev.agent_id}` }, ev.agent_id), ` version ${ev.agent_version}`),
        h("dt", {}, "Dataset"), h("dd", {}, `${ev.dataset_name} (revision ${ev.dataset_revision})`),
        h("dt", {}, "Status"), h("dd", { id: "eval-status" }, `${ev.status} · ${ev.counts.scored}/${ev.counts.total} scored, ${ev.counts.passed} passed`),
        s ? [h("dt", {}, "Pass rate"), h("dd", { id: "eval-pass-rate" }, percent(s.pass_rate)),
             h("dt", {}, "Cost"), h("dd", {}, `${money(s.cost_usd)} (${money(s.cost_per_run_usd)} per run; judge ${money(s.judge_cost_usd)})`),
             h("dt", {}, "Latency"), h("dd", {}, `p50 ${ms(s.p50_latency_ms)} · p95 ${ms(s.p95_latency_ms)}`)] : null,
        h("dt", {}, "Created"), h("dd", {}, when(ev.created_at))),
      h("h2", {}, "Results"), results.length ? resultsTable(results) : h("p", { class: "muted" }, "No case scored yet."));
    if (ev.status === "completed") return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function viewCompare({ page, params }) {
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  page("Compare evals", errors);
  let c;
  try {
    c = await api.get(`/evals/${encodeURIComponent(params.id)}/compare/${encodeURIComponent(params.base)}`);
  } catch (error) {
    showError(errors, error);
    return;
  }
  const verdict = (passed) => (passed === null || passed === undefined ? "–" : passed ? "pass" : "fail");
  const signed = (v, unit) => (typeof v === "number" ? `${v > 0 ? "+" : ""}${unit === "%" ? (v * 100).toFixed(1) + " pts" : unit === "$" ? "$" + v.toFixed(6) : Math.round(v) + " ms"}` : "–");
  page("Compare evals", errors,
    h("p", { id: "compare-summary" }, `v${c.base.agent_version} → v${c.head.agent_version}: pass rate ${signed(c.pass_rate_delta, "%")}, ${c.fixed} fixed, ${c.regressed} regressed; cost per run ${signed(c.cost_per_run_delta_usd, "$")}; p50 ${signed(c.p50_latency_delta_ms)}, p95 ${signed(c.p95_latency_delta_ms)}`),
    h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone", id: "compare-table" },
      h("thead", {}, h("tr", {}, ["Case", "Base", "Head", "Change", "Δ cost", "Δ latency"].map((col) => h("th", { scope: "col" }, col)))),
      h("tbody", {}, c.cases.map((row) => h("tr", { class: `change-${row.change}` },
        h("td", { "data-label": "Case" }, row.case_name),
        h("td", { "data-label": "Base" }, verdict(row.base_passed)),
        h("td", { "data-label": "Head" }, verdict(row.head_passed)),
        h("td", { "data-label": "Change" }, row.change.replace("_", " ")),
        h("td", { "data-label": "Δ cost" }, signed(row.cost_delta_usd, "$")),
        h("td", { "data-label": "Δ latency" }, signed(row.latency_delta_ms))))))));
}

registerPage({ path: "/evals", view: viewEvals, nav: { label: "Evals", order: 35 } });
registerPage({ path: "/evals/:id", view: viewEval });
registerPage({ path: "/evals/:id/compare/:base", view: viewCompare });
