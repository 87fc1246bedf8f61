// The model catalog and the tool registry.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { h, items } from "../ui.js";

async function viewCatalog({ page }) {
  const [models, tools] = await Promise.all([api.get("/models"), api.get("/tools")]);
  page("Models and tools",
    h("h2", {}, "Models"),
    h("ul", {}, items(models).map((m) => h("li", {}, h("code", {}, `${m.provider} / ${m.name}`), ` ${m.display_name || ""}`, m.available ? "" : " (unavailable)"))),
    h("h2", {}, "Tools"),
    h("ul", {}, items(tools).map((t) => h("li", {}, h("code", {}, t.name), ` — ${t.description || ""}`))));
}

registerPage({ path: "/catalog", view: viewCatalog, nav: { label: "Models & tools", order: 50 } });
