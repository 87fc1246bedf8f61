// The agent page's side panels: details, version history, publishing, and the playground.
import * as api from "../api.js";
import { renderMarkdown } from "../markdown.js";
import { TERMINAL_EVENTS, agentLabel, announce, busy, h, items, label, money, plural, showError, text, when } from "../ui.js";

export async function versionsPanel(agent, onLoad) {
  const body = await api.get(`/agents/${agent.id}/versions` + api.query({ limit: 50 }));
  const versions = items(body);
  return h("section", { "aria-labelledby": "versions-heading" },
    h("h2", { id: "versions-heading" }, "Version history"),
    h("ol", { class: "versions", reversed: true }, versions.map((v) => h("li", {},
      h("span", {}, `Version ${v.version} · ${when(v.created_at || v.updated_at)}`),
      v.version === agent.version ? h("span", { class: "muted" }, " (current)")
        : h("button", { type: "button", class: "link", "aria-label": `Load version ${v.version} into the form`, onclick: () => onLoad(v) }, "Load into form")))));
}

async function findListing(agent) {
  const body = await api.get("/marketplace/listings" + api.query({ q: agent.name, limit: 50 }), { auth: false });
  return items(body).find((l) => l.agent_id === agent.id) || null;
}

export async function publishPanel(agent) {
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const status = h("p", { role: "status" });
  const [categories, listing] = await Promise.all([
    api.get("/marketplace/categories", { auth: false }).then(items),
    findListing(agent).catch(() => null),
  ]);
  let current = listing;
  const category = h("select", { id: "publish-category", name: "category", required: true },
    categories.map((c) => h("option", { value: c.id, selected: current && current.category === c.id }, c.name || c.id)));
  const tags = h("input", { id: "publish-tags", name: "tags", value: current ? (current.tags || []).join(", ") : "", placeholder: "comma-separated" });
  const summary = h("input", { id: "publish-summary", name: "summary", maxlength: 200, value: current ? current.summary || "" : "" });
  const submit = h("button", { type: "submit" }, current ? "Update listing" : "Publish");
  const unpublish = h("button", { type: "button", class: "danger", hidden: !current }, "Unpublish");
  const where = h("p", {});
  const showWhere = () => {
    where.replaceChildren(...(current ? ["Listed as ", h("a", { href: `#/market/${current.id}` }, current.display_name || current.name), ` (version ${current.version}).`] : ["Not published."]));
    submit.textContent = current ? "Update listing" : "Publish";
    unpublish.hidden = !current;
  };
  showWhere();
  const form = h("form", { class: "stack", "aria-labelledby": "publish-heading" },
    h("h2", { id: "publish-heading" }, "Marketplace"), where,
    label("Category", category), label("Tags", tags), label("Summary", summary), errors,
    h("div", { class: "row" }, submit, unpublish), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      const body = { agent_id: agent.id, category: category.value, tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean) };
      if (summary.value.trim()) body.summary = summary.value.trim();
      current = await busy(submit, () => api.post("/marketplace/listings", body));
      status.textContent = `Published version ${current.version}.`;
      announce(status.textContent);
      showWhere();
    } catch (error) {
      showError(errors, error);
    }
  });
  unpublish.addEventListener("click", async () => {
    if (!current || !confirm("Remove the listing? Installed copies keep working.")) return;
    try {
      await api.del(`/marketplace/listings/${current.id}`);
      current = null;
      status.textContent = "Listing removed.";
      showWhere();
    } catch (error) {
      showError(errors, error);
    }
  });
  return form;
}

/** Try the agent as the form has it: a streamed run of the saved version, or of the unsaved
 * draft (POST /runs with `draft`; docs/api-decisions/playground-drafts.md). Not stored in a
 * conversation; the draft is never saved as a version. */
export function playground(agent, isDirty, readDraft, showFieldErrors) {
  const input = h("textarea", { id: "playground-input", name: "input", rows: 3, required: true });
  const run = h("button", { type: "submit" }, "Try it");
  const note = h("p", { class: "muted", role: "status" });
  const output = h("div", { class: "reply", "aria-live": "polite" });
  const meta = h("p", { class: "muted" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const form = h("form", { class: "stack", "aria-labelledby": "playground-heading" },
    h("h2", { id: "playground-heading" }, "Playground"),
    h("p", { class: "muted" }, "Runs what the form shows: unsaved changes are tried without saving them."),
    label("Input", input), errors, run, note, output, meta);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    const body = { agent_id: agent.id, input: input.value };
    if (isDirty()) {
      try {
        body.draft = readDraft();
      } catch (error) {
        showError(errors, { message: `The form is not a valid definition: ${error.message}` });
        return;
      }
    }
    note.textContent = body.draft ? "Working… (trying your unsaved changes)" : "Working…";
    output.replaceChildren();
    meta.textContent = "";
    let streamed = "";
    try {
      await busy(run, () => api.streamRun(body, ({ event, data }) => {
        if (event === "text.delta") {
          streamed += data.delta;
          output.textContent = streamed;
        } else if (event === "tool.call") {
          note.textContent = `Working… (${data.name})`;
        } else if (TERMINAL_EVENTS.has(event)) {
          const r = data.run || data;
          output.replaceChildren(typeof r.output === "string" || streamed ? renderMarkdown(streamed || r.output) : h("pre", {}, text(r.output)));
          meta.textContent = `${r.status}${r.draft ? " (unsaved draft)" : ""} · ${plural((r.usage || {}).requests || 0, "request")} · ${money(r.cost_usd || 0)}`;
          if (r.error) showError(errors, { message: `${r.error.code}: ${r.error.message}` });
          note.textContent = "";
        }
      }));
    } catch (error) {
      // A draft's field errors come located under "draft."; show them next to the form's fields.
      const fields = (error.fields || []).filter((f) => String(f.loc).startsWith("draft."));
      if (fields.length && showFieldErrors) showFieldErrors(fields.map((f) => ({ ...f, loc: String(f.loc).slice(6) })));
      showError(errors, error);
      note.textContent = "";
    }
  });
  return form;
}

export function detailsPanel(agent) {
  return h("section", { "aria-labelledby": "details-heading" },
    h("h2", { id: "details-heading" }, "Details"),
    h("dl", { class: "details" },
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, agent.id)),
      h("dt", {}, "Version"), h("dd", {}, String(agent.version)),
      h("dt", {}, "Updated"), h("dd", {}, when(agent.updated_at)),
      agent.source ? [h("dt", {}, "Installed from"), h("dd", {}, h("a", { href: `#/market/${agent.source.listing_id}` }, "a marketplace listing"), ` (version ${agent.source.listing_version})`)] : null,
      // Reaching the agent from other clients (docs/mcp-client.md, docs/a2a.md); both need a token of scope runs.
      h("dt", {}, "MCP URL"), h("dd", {}, h("code", { class: "mcp-url" }, `${api.absoluteBase()}/mcp/agents/${agent.id}`)),
      h("dt", {}, "A2A card"), h("dd", {}, h("code", { class: "a2a-card-url" }, `${api.absoluteBase()}/a2a/${agent.id}/.well-known/agent-card.json`))),
    h("p", { class: "muted" }, "MCP and A2A clients authenticate with an ", h("a", { href: "#/tokens" }, "access token"), " of scope runs (e.g. one restricted to this agent)."),
    h("p", {}, h("a", { href: `#/chat/${agent.id}` }, "Chat with this agent"), " · ",
      h("a", { href: `#/runs?agent_id=${agent.id}` }, `Runs of ${agentLabel(agent)}`)));
}
