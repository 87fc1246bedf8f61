// Your agents: the list, and the definition editor (#/agents/new, #/agents/{id}).
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { agentLabel, announce, busy, h, listAll, showError, text, when } from "../ui.js";

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

async function viewAgents({ page }) {
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
      ? h("div", { class: "table-scroll" }, h("table", {},
          h("caption", { class: "visually-hidden" }, "Your agents"),
          h("thead", {}, h("tr", {}, ["Name", "Id name", "Version", "Model", "Tools", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows)))
      : h("p", { class: "muted" }, "No agents yet. Create one, or install one from the marketplace."),
  );
}

async function viewAgentEditor({ page, params }) {
  const isNew = params.id === "new";
  let agent = null;
  let initial = NEW_AGENT;
  if (!isNew) {
    page("Agent", h("p", { class: "muted" }, "Loading…"));
    agent = await api.get(`/agents/${encodeURIComponent(params.id)}`);
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

registerPage({ path: "/agents", view: viewAgents, nav: { label: "Agents", order: 10 } });
registerPage({ path: "/agents/:id", view: viewAgentEditor });
