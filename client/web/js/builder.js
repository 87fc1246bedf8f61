// The agent builder form: every part of a definition as labelled controls (JSON stays the
// advanced view). fillForm() loads a definition, readForm() builds one, showFieldErrors()
// puts each 422 field error next to its control.
import { h, label } from "./ui.js";

export const NAME_RULE =
  "Lowercase letters, digits, dots, dashes and underscores; starts with a letter or digit; at most 63 characters; " +
  "unique among your agents (it is how the CLI and delegates refer to the agent).";
const NAME_PATTERN = "[a-z0-9][a-z0-9._\\-]{0,62}";
const LIMITS = [
  ["max_requests", "Most model requests per run", "1"],
  ["max_tool_calls", "Most tool calls per run", "1"],
  ["max_cost_usd", "Most cost per run (USD)", "0.000001"],
  ["timeout_seconds", "Time limit per run (seconds)", "1"],
];

function schemaType(schema) {
  if (schema.enum) return "enum";
  if (schema.type) return Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  const option = (schema.anyOf || schema.oneOf || []).find((s) => s.type && s.type !== "null");
  return option ? option.type : "json";
}

function numberBounds(schema) {
  const option = (schema.anyOf || []).find((s) => s.type === "integer" || s.type === "number") || schema;
  return { min: option.minimum, max: option.maximum };
}

/** Controls for a tool's config, generated from its JSON schema; returns {node, read, write}. */
function configForm(tool) {
  const properties = (tool.config_schema && tool.config_schema.properties) || {};
  const readers = [];
  const writers = [];
  const fields = Object.entries(properties).map(([key, schema]) => {
    const id = `tool-${tool.name}-${key}`;
    const title = schema.title || key;
    const help = schema.description ? h("small", { class: "muted" }, schema.description) : null;
    const type = schemaType(schema);
    let control;
    if (type === "boolean") {
      control = h("select", { id, name: key },
        h("option", { value: "" }, "default"), h("option", { value: "true" }, "yes"), h("option", { value: "false" }, "no"));
      readers.push((out) => { if (control.value) out[key] = control.value === "true"; });
      writers.push((cfg) => { control.value = key in cfg && cfg[key] !== null ? String(cfg[key]) : ""; });
    } else if (type === "enum") {
      control = h("select", { id, name: key }, h("option", { value: "" }, "default"), schema.enum.map((v) => h("option", { value: v }, v)));
      readers.push((out) => { if (control.value) out[key] = control.value; });
      writers.push((cfg) => { control.value = cfg[key] ?? ""; });
    } else if (type === "integer" || type === "number") {
      const { min, max } = numberBounds(schema);
      control = h("input", { id, name: key, type: "number", step: type === "integer" ? "1" : "any", min, max, placeholder: schema.default ?? "" });
      readers.push((out) => { if (control.value !== "") out[key] = Number(control.value); });
      writers.push((cfg) => { control.value = cfg[key] ?? ""; });
    } else if (type === "array") {
      control = h("input", { id, name: key, placeholder: "comma-separated" });
      readers.push((out) => {
        if (control.value.trim()) out[key] = control.value.split(",").map((v) => v.trim()).filter(Boolean);
      });
      writers.push((cfg) => { control.value = Array.isArray(cfg[key]) ? cfg[key].join(", ") : ""; });
    } else if (type === "string") {
      control = h("input", { id, name: key, placeholder: schema.default ?? "" });
      readers.push((out) => { if (control.value !== "") out[key] = control.value; });
      writers.push((cfg) => { control.value = cfg[key] ?? ""; });
    } else {
      control = h("textarea", { id, name: key, rows: 2, class: "code", placeholder: "JSON" });
      readers.push((out) => { if (control.value.trim()) out[key] = JSON.parse(control.value); });
      writers.push((cfg) => { control.value = key in cfg ? JSON.stringify(cfg[key]) : ""; });
    }
    return h("div", { class: "field" }, h("label", { for: id }, title), control, help);
  });
  const node = h("div", { class: "tool-config", hidden: true }, fields.length ? fields : h("p", { class: "muted" }, "No settings."));
  return {
    node,
    read: () => readers.reduce((out, read) => (read(out), out), {}),
    write: (config) => writers.forEach((write) => write(config || {})),
  };
}

function field(name, text, control, help) {
  const error = h("p", { class: "field-error", id: `error-${name}`, hidden: true });
  const helpNode = help ? h("p", { class: "muted help", id: `help-${name}` }, help) : null;
  const ids = [help ? `help-${name}` : null, `error-${name}`].filter(Boolean).join(" ");
  if (control.setAttribute) control.setAttribute("aria-describedby", ids);
  return h("div", { class: "field", "data-field": name }, h("label", { for: control.id }, text), control, helpNode, error);
}

function modelLabel(m) {
  const parts = [m.display_name || m.name, `$${m.input_price_per_mtok} / $${m.output_price_per_mtok} per million tokens in/out`,
    `${Math.round(m.context_window / 1000)}k context`];
  if (m.supports_web_search) parts.push("web search");
  if (!m.available) parts.push("unavailable");
  return parts.join(" · ");
}

/**
 * Build the form. catalog = {models, tools, agents (mine, for delegates), selfId}.
 * Returns {node, fill(definition), read() → definition, showErrors(fields) → unplaced}.
 */
export function agentForm(catalog) {
  const c = {};
  c.name = h("input", { id: "agent-name", name: "name", required: true, pattern: NAME_PATTERN, autocomplete: "off" });
  c.display_name = h("input", { id: "agent-display-name", name: "display_name", maxlength: 120 });
  c.description = h("textarea", { id: "agent-description", name: "description", rows: 2, maxlength: 4000 });
  c.model = h("select", { id: "agent-model", name: "model" },
    ["vertex-gemini", "vertex-anthropic"].map((provider) => {
      const models = catalog.models.filter((m) => m.provider === provider);
      return models.length ? h("optgroup", { label: provider === "vertex-gemini" ? "Gemini" : "Claude" },
        models.map((m) => h("option", { value: `${m.provider}|${m.name}`, disabled: !m.available }, modelLabel(m)))) : null;
    }));
  c.temperature = h("input", { id: "agent-temperature", name: "temperature", type: "number", min: 0, max: 2, step: 0.1, placeholder: "model default" });
  c.system_prompt = h("textarea", { id: "agent-system-prompt", name: "system_prompt", rows: 6 });

  const tools = catalog.tools.map((tool) => {
    const box = h("input", { type: "checkbox", id: `tool-${tool.name}`, name: "tools", value: tool.name });
    const config = configForm(tool);
    box.addEventListener("change", () => (config.node.hidden = !box.checked));
    const node = h("div", { class: "tool-choice" },
      h("label", { class: "check" }, box, h("span", {}, h("code", {}, tool.name), ` — ${tool.description}`)), config.node);
    return { tool, box, config, node };
  });
  const toolsSet = h("fieldset", { id: "agent-tools", class: "field", "data-field": "tools", "aria-describedby": "error-tools" },
    h("legend", {}, "Tools"), tools.map((t) => t.node), h("p", { class: "field-error", id: "error-tools", hidden: true }));

  c.output_schema = h("textarea", { id: "agent-output-schema", name: "output_schema", rows: 4, class: "code", placeholder: '{"type": "object", "properties": {…}}' });

  const delegates = catalog.agents.filter((a) => a.id !== catalog.selfId).map((a) => ({
    agent: a, box: h("input", { type: "checkbox", id: `delegate-${a.id}`, name: "delegates", value: a.id }),
  }));
  const delegatesSet = h("fieldset", { id: "agent-delegates", class: "field", "data-field": "delegates" },
    h("legend", {}, "Delegates"),
    h("p", { class: "muted help" }, "Agents of yours this one may hand work to (each becomes a tool)."),
    delegates.length ? delegates.map((d) => h("label", { class: "check" }, d.box, d.agent.display_name || d.agent.name))
      : h("p", { class: "muted" }, "You have no other agents yet."),
    h("p", { class: "field-error", id: "error-delegates", hidden: true }));

  const limits = Object.fromEntries(LIMITS.map(([key, , step]) => [key, h("input", { id: `limit-${key}`, name: key, type: "number", min: 0, step })]));
  const limitsSet = h("fieldset", { class: "field", "data-field": "limits" }, h("legend", {}, "Limits"),
    h("div", { class: "grid-2" }, LIMITS.map(([key, text]) => label(text, limits[key]))),
    h("p", { class: "field-error", id: "error-limits", hidden: true }));

  let extra = {}; // parts the form has no controls for (metadata, kind, workflow) survive a round trip
  const node = h("div", { class: "builder" },
    field("name", "Name", c.name, NAME_RULE),
    field("display_name", "Display name", c.display_name),
    field("description", "Description", c.description),
    field("model", "Model", c.model, "Prices are per million tokens (input / output)."),
    field("temperature", "Temperature", c.temperature),
    field("system_prompt", "System prompt", c.system_prompt),
    toolsSet,
    field("output_schema", "Output schema (JSON Schema, optional)", c.output_schema, "When set, runs return a JSON object matching it."),
    delegatesSet,
    limitsSet);

  function fill(definition) {
    const d = definition || {};
    extra = { metadata: d.metadata || {}, kind: d.kind, workflow: d.workflow };
    c.name.value = d.name || "";
    c.display_name.value = d.display_name || "";
    c.description.value = d.description || "";
    if (d.model) c.model.value = `${d.model.provider}|${d.model.name}`;
    c.temperature.value = d.model && d.model.temperature != null ? d.model.temperature : "";
    c.system_prompt.value = d.system_prompt || "";
    const chosen = new Map((d.tools || []).map((t) => [t.name, t]));
    for (const t of tools) {
      const ref = chosen.get(t.tool.name);
      t.box.checked = Boolean(ref && ref.enabled !== false);
      t.config.node.hidden = !t.box.checked;
      t.config.write(ref ? ref.config : {});
    }
    c.output_schema.value = d.output_schema ? JSON.stringify(d.output_schema, null, 2) : "";
    const wanted = new Set(d.delegates || []);
    for (const dl of delegates) dl.box.checked = wanted.has(dl.agent.id);
    for (const [key] of LIMITS) limits[key].value = d.limits && d.limits[key] != null ? d.limits[key] : "";
  }

  /** The definition; throws {fields: [{loc, message}]} for input the browser can already tell is wrong. */
  function read() {
    const problems = [];
    const [provider, name] = (c.model.value || "|").split("|");
    const model = { provider, name };
    if (c.temperature.value !== "") model.temperature = Number(c.temperature.value);
    let outputSchema = null;
    if (c.output_schema.value.trim()) {
      try {
        outputSchema = JSON.parse(c.output_schema.value);
      } catch (error) {
        problems.push({ loc: "output_schema", message: `not valid JSON: ${error.message}` });
      }
    }
    const toolRefs = [];
    for (const t of tools.filter((x) => x.box.checked)) {
      try {
        toolRefs.push({ name: t.tool.name, enabled: true, config: t.config.read() });
      } catch (error) {
        problems.push({ loc: `tools.${t.tool.name}`, message: `a setting is not valid JSON: ${error.message}` });
      }
    }
    const limitValues = {};
    for (const [key] of LIMITS) if (limits[key].value !== "") limitValues[key] = Number(limits[key].value);
    if (problems.length) throw Object.assign(new Error("Some fields need fixing."), { fields: problems });
    const definition = {
      name: c.name.value.trim(),
      display_name: c.display_name.value.trim() || null,
      description: c.description.value,
      model,
      system_prompt: c.system_prompt.value,
      tools: toolRefs,
      output_schema: outputSchema,
      delegates: delegates.filter((d) => d.box.checked).map((d) => d.agent.id),
      limits: limitValues,
      metadata: extra.metadata || {},
    };
    if (extra.kind === "workflow") Object.assign(definition, { kind: "workflow", workflow: extra.workflow, model: null });
    return definition;
  }

  /** Put each error next to its field; returns those with no field of their own. */
  function showErrors(fields) {
    for (const slot of node.querySelectorAll(".field-error")) {
      slot.hidden = true;
      slot.textContent = "";
    }
    for (const control of node.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
    const unplaced = [];
    for (const f of fields || []) {
      const loc = String(f.loc || "").replace(/\[(\d+)\]/g, ".$1");
      let key = loc.split(".")[0];
      if (key === "body") key = loc.split(".")[1];
      if (key === "model" && loc.includes("temperature")) key = "temperature";
      const slot = node.querySelector(`#error-${key}`);
      if (!slot) {
        unplaced.push(f);
        continue;
      }
      let message = f.message;
      const index = loc.match(/^tools\.(\d+)/);
      if (index && tools.filter((t) => t.box.checked)[Number(index[1])]) {
        message = `${tools.filter((t) => t.box.checked)[Number(index[1])].tool.name}: ${message}`;
      }
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      slot.hidden = false;
      const control = node.querySelector(`[data-field="${key}"] input, [data-field="${key}"] select, [data-field="${key}"] textarea`);
      if (control) control.setAttribute("aria-invalid", "true");
    }
    return unplaced;
  }

  return { node, fill, read, showErrors };
}
