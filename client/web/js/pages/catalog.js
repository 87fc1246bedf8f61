// The model catalog (prices, context, capabilities) and the tool registry.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { h, items } from "../ui.js";

async function viewCatalog({ page }) {
  const [models, tools] = await Promise.all([api.get("/models").then(items), api.get("/tools").then(items)]);
  page("Models and tools",
    h("h2", {}, "Models"),
    h("div", { class: "table-scroll" }, h("table", { class: "cards-on-phone" },
      h("caption", { class: "visually-hidden" }, "Models"),
      h("thead", {}, h("tr", {}, ["Model", "Provider", "Input / output price per million tokens", "Context", "Capabilities"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, models.map((m) => h("tr", {},
        h("td", { "data-label": "Model" }, m.display_name || m.name, " ", h("code", {}, m.name)),
        h("td", { "data-label": "Provider" }, m.provider),
        h("td", { "data-label": "Price" }, `$${m.input_price_per_mtok} / $${m.output_price_per_mtok}`),
        h("td", { "data-label": "Context" }, `${Math.round(m.context_window / 1000)}k in, ${Math.round(m.max_output_tokens / 1000)}k out`),
        h("td", { "data-label": "Capabilities" }, [m.supports_web_search ? "web search" : null, m.available ? "available" : "unavailable"].filter(Boolean).join(", "))))))),
    h("h2", {}, "Tools"),
    h("ul", {}, tools.map((t) => h("li", {}, h("code", {}, t.name), ` — ${t.description || ""}`,
      t.requires_approval_default ? h("span", { class: "muted" }, " (asks for approval by default)") : null))));
}

registerPage({ path: "/catalog", view: viewCatalog, nav: { label: "Models & tools", order: 50 } });
