// Your agents: the list, and the agent page (#/agents/new, #/agents/{id}): the builder form
// with JSON as the advanced view, templates, version history, publishing and a playground.
import * as api from "../api.js";
import { NAME_RULE, agentForm } from "../builder.js";
import { registerPage } from "../router.js";
import { agentLabel, announce, busy, h, items, label, listAll, showError } from "../ui.js";
import { detailsPanel, playground, publishPanel, versionsPanel } from "./agent-side.js";

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
      h("td", { "data-label": "Agent" }, h("a", { href: `#/agents/${agent.id}` }, agentLabel(agent))),
      h("td", { "data-label": "Name" }, h("code", {}, agent.name)),
      h("td", { "data-label": "Version" }, String(agent.version)),
      h("td", { "data-label": "Model" }, agent.model ? agent.model.name : agent.kind || "–"),
      h("td", { "data-label": "Tools" }, (agent.tools || []).map((t) => t.name).join(", ") || "–"),
      h("td", {}, h("a", { href: `#/chat/${agent.id}`, "aria-label": `Chat with ${agentLabel(agent)}` }, "Chat")),
    ));
  page("Agents",
    h("p", {}, h("a", { href: "#/agents/new" }, "New agent")),
    agents.length
      ? h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone" },
          h("caption", { class: "visually-hidden" }, "Your agents"),
          h("thead", {}, h("tr", {}, ["Agent", "Name", "Version", "Model", "Tools", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows)))
      : h("p", { class: "muted" }, "No agents yet. Create one, or install one from the marketplace."),
  );
}

async function viewAgentEditor({ page, params }) {
  const isNew = params.id === "new";
  page(isNew ? "New agent" : "Agent", h("p", { class: "muted" }, "Loading…"));
  const [models, tools, agents, templates, loaded] = await Promise.all([
    api.get("/models").then(items),
    api.get("/tools").then(items),
    listAll("/agents"),
    isNew ? api.get("/templates").then(items) : Promise.resolve([]),
    isNew ? Promise.resolve(null) : api.get(`/agents/${encodeURIComponent(params.id)}`),
  ]);
  let agent = loaded;
  const initial = agent ? Object.fromEntries(DEFINITION_FIELDS.filter((k) => k in agent).map((k) => [k, agent[k]])) : NEW_AGENT;
  const form = agentForm({ models, tools, agents, selfId: agent && agent.id });
  form.fill(initial);
  let saved = JSON.stringify(form.read());
  const dirty = () => {
    try {
      return JSON.stringify(currentDefinition()) !== saved;
    } catch {
      return true;
    }
  };

  // The advanced view: the same definition as JSON.
  const editor = h("textarea", { id: "definition", class: "code", name: "definition", spellcheck: "false", "aria-describedby": "definition-help definition-errors" });
  const advanced = h("details", { class: "advanced" },
    h("summary", {}, "JSON (advanced)"),
    h("label", { for: "definition" }, "Definition (JSON)"),
    h("p", { id: "definition-help", class: "muted" }, "The whole definition (see API.md). While this is open, it is what gets saved; closing it loads it into the form."),
    editor);
  advanced.addEventListener("toggle", () => {
    if (advanced.open) {
      try {
        editor.value = JSON.stringify(form.read(), null, 2);
      } catch (error) {
        showError(errors, error);
      }
    } else {
      try {
        form.fill(JSON.parse(editor.value));
      } catch (error) {
        showError(errors, { message: `Not valid JSON: ${error.message}` });
      }
    }
  });
  function currentDefinition() {
    return advanced.open ? JSON.parse(editor.value) : form.read();
  }

  const errors = h("div", { class: "errors", role: "alert", id: "definition-errors", hidden: true });
  const status = h("p", { role: "status", class: "notice", hidden: true });
  const save = h("button", { type: "submit" }, isNew ? "Create agent" : "Save new version");
  const templatePicker = isNew && templates.length
    ? h("div", { class: "row template-picker" },
        label("Start from a template", h("select", { id: "agent-template", name: "template" },
          h("option", { value: "" }, "Blank agent"),
          templates.map((t) => h("option", { value: t.name }, `${t.display_name || t.name} — ${t.description || ""}`)))),
        h("button", {
          type: "button", class: "secondary",
          onclick: () => {
            const chosen = templates.find((t) => t.name === document.getElementById("agent-template").value);
            form.fill(chosen ? { ...chosen.definition, name: chosen.definition.name || chosen.name } : NEW_AGENT);
            if (advanced.open) editor.value = JSON.stringify(form.read(), null, 2);
            announce(chosen ? `Loaded the ${chosen.display_name || chosen.name} template` : "Blank agent");
          },
        }, "Use template"))
    : null;
  const formNode = h("form", { "aria-labelledby": "page-title", novalidate: true, class: "agent-form" },
    templatePicker, form.node, advanced, errors, h("div", { class: "row" }, save), status);
  formNode.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    form.showErrors([]);
    status.hidden = true;
    let definition;
    try {
      definition = currentDefinition();
    } catch (error) {
      const message = error instanceof SyntaxError ? `Not valid JSON: ${error.message}` : error.message;
      showError(errors, { message, fields: error.fields });
      if (error.fields) form.showErrors(error.fields);
      return;
    }
    try {
      const result = await busy(save, () =>
        isNew
          ? api.post("/agents", definition, { headers: { "Idempotency-Key": crypto.randomUUID() } })
          : api.put(`/agents/${agent.id}`, definition, { headers: { "If-Match": String(agent.version) } }));
      announce(`Saved ${agentLabel(result)} version ${result.version}`);
      if (isNew) {
        location.hash = `#/agents/${result.id}`;
        return;
      }
      agent = result;
      saved = JSON.stringify(form.read());
      status.hidden = false;
      status.textContent = `Saved version ${result.version}.`;
      renderSide();
    } catch (error) {
      const fields = error.fields || [];
      form.showErrors(fields);
      if (error.code === "name_taken") form.showErrors([{ loc: "name", message: `You already have an agent named "${definition.name}". ${NAME_RULE}` }]);
      showError(errors, error);
      announce("The definition was not saved");
    }
  });

  const side = h("aside", { "aria-label": isNew ? "Help" : "Agent details", class: "agent-side" });
  // A save re-renders the panels while the first render may still be loading: only the latest
  // render appends, so the panels never appear twice.
  let sideRender = 0;
  async function renderSide() {
    const mine = ++sideRender;
    if (isNew) {
      side.replaceChildren(h("h2", {}, "Tips"),
        h("p", {}, "Start from a template, or fill in the form. Models and their prices: ", h("a", { href: "#/catalog" }, "the catalog"), "."),
        h("p", {}, "Once created, a playground here lets you try the agent."));
      return;
    }
    side.replaceChildren(detailsPanel(agent), playground(agent, dirty, currentDefinition, form.showErrors));
    const [versions, publish] = await Promise.all([
      versionsPanel(agent, (version) => {
        form.fill(Object.fromEntries(DEFINITION_FIELDS.filter((k) => k in version).map((k) => [k, version[k]])));
        announce(`Version ${version.version} loaded into the form; save to make it current`);
      }).catch((error) => h("p", { class: "error" }, error.message)),
      publishPanel(agent).catch((error) => h("p", { class: "error" }, error.message)),
    ]);
    if (mine !== sideRender) return;
    side.append(versions, publish, h("button", {
      class: "danger", type: "button",
      onclick: async () => {
        if (!confirm(`Delete ${agentLabel(agent)}?`)) return;
        await api.del(`/agents/${agent.id}`);
        announce("Agent deleted");
        location.hash = "#/agents";
      },
    }, "Delete agent"));
  }
  page(isNew ? "New agent" : `Agent: ${agentLabel(agent)}`, h("div", { class: "columns" }, formNode, side));
  await renderSide();
}

registerPage({ path: "/agents", view: viewAgents, nav: { label: "Agents", order: 10 } });
registerPage({ path: "/agents/:id", view: viewAgentEditor });
