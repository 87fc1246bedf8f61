// MCP servers: register remote MCP servers, connect them with my credential (bearer token or
// OAuth), see their tools and accept tools they added since the last review.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { busy, errorBox, h, label, showError, when } from "../ui.js";

async function viewServers({ page }) {
  const name = h("input", { id: "mcp-name", name: "name", required: true, placeholder: "github" });
  const url = h("input", { id: "mcp-url", name: "url", type: "url", required: true, placeholder: "https://mcp.example.com/mcp" });
  const auth = h("select", { id: "mcp-auth", name: "auth" }, ["none", "bearer", "oauth"].map((t) => h("option", { value: t }, t)));
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const submit = h("button", { type: "submit" }, "Add server");
  const form = h("form", { class: "stack", "aria-labelledby": "new-mcp" },
    h("h2", { id: "new-mcp" }, "New MCP server"), label("Name", name), label("Streamable HTTP URL", url), label("Authentication", auth), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      const server = await busy(submit, () => api.post("/mcp-servers", { name: name.value.trim(), url: url.value.trim(), auth: { type: auth.value } }));
      location.hash = `#/mcp-servers/${server.id}`;
    } catch (error) {
      showError(errors, error);
    }
  });
  const list = h("section", { "aria-label": "MCP servers", "aria-live": "polite" });
  try {
    const body = await api.get("/mcp-servers" + api.query({ limit: 100 }));
    list.replaceChildren(body.items.length
      ? h("table", {},
          h("thead", {}, h("tr", {}, ["Server", "URL", "Auth", "Connected", "Tools to review"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, body.items.map((s) => h("tr", {},
            h("td", {}, h("a", { href: `#/mcp-servers/${s.id}` }, s.name)), h("td", {}, s.url), h("td", {}, s.auth.type),
            h("td", {}, s.connected ? "yes" : "no"), h("td", {}, s.pending_tools.join(", ") || "–")))))
      : h("p", { class: "muted" }, "No MCP servers yet."));
  } catch (error) {
    list.replaceChildren(errorBox(error));
  }
  page("MCP servers", h("div", { class: "columns" }, h("section", {}, form, errors), list));
}

async function viewServer({ page, params }) {
  const base = `/mcp-servers/${encodeURIComponent(params.id)}`;
  let server = await api.get(base);
  const status = h("p", { role: "status" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const summary = h("dl", {});
  const tools = h("section", { "aria-label": "Tools", "aria-live": "polite" });
  const action = (button, work) => button.addEventListener("click", async () => {
    showError(errors, null);
    try {
      await busy(button, work);
    } catch (error) {
      showError(errors, error);
    }
  });

  function showSummary() {
    summary.replaceChildren(
      h("dt", {}, "URL"), h("dd", {}, server.url),
      h("dt", {}, "Authentication"), h("dd", {}, server.auth.type),
      h("dt", {}, "Connected (my credential)"), h("dd", { id: "mcp-connected" }, server.connected ? "yes" : "no"),
      h("dt", {}, "Allowed tools"), h("dd", {}, (server.allowed_tools || ["all"]).join(", ")),
      h("dt", {}, "Tools listed"), h("dd", {}, when(server.tools_fetched_at)));
  }

  const connect = h("div", { class: "stack" });
  if (server.auth.type === "bearer") {
    const token = h("input", { id: "mcp-token", type: "password", autocomplete: "off" });
    const save = h("button", { type: "button" }, "Store my token");
    action(save, async () => {
      await api.call("PUT", `${base}/credential`, { body: { token: token.value } });
      token.value = "";
      server = await api.get(base);
      status.textContent = "Token stored (encrypted; it is never shown again).";
      showSummary();
    });
    connect.append(label("Bearer token", token), save);
  } else if (server.auth.type === "oauth") {
    const start = h("button", { type: "button" }, "Connect with OAuth");
    action(start, async () => {
      const flow = await api.get(`${base}/oauth/start`);
      window.open(flow.authorization_url, "_blank", "noopener");
      status.textContent = "Sign in in the new window, then reload this page.";
    });
    connect.append(start);
  }
  const forget = h("button", { type: "button" }, "Forget my credential");
  action(forget, async () => {
    await api.del(`${base}/credential`);
    server = await api.get(base);
    showSummary();
  });
  const refresh = h("button", { type: "button" }, "Re-read tools");
  action(refresh, () => loadTools(true));
  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  action(remove, async () => {
    if (!confirm("Delete this server and every credential stored for it?")) return;
    await api.del(base);
    location.hash = "#/mcp-servers";
  });

  async function loadTools(fresh) {
    const listing = await api.get(`${base}/tools` + api.query(fresh ? { refresh: "true" } : {}));
    const pending = listing.tools.filter((t) => t.status === "pending").map((t) => t.name);
    const accept = h("button", { type: "button", hidden: !pending.length }, `Accept ${pending.length} new tool(s)`);
    action(accept, async () => {
      server = await api.post(`${base}/tools/accept`, { tools: pending });
      await loadTools(false);
    });
    tools.replaceChildren(listing.tools.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Tool", "Status", "Allowed", "Description"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, listing.tools.map((t) => h("tr", {}, h("td", {}, h("code", {}, t.name)), h("td", {}, t.status),
            h("td", {}, t.allowed ? "yes" : "no"), h("td", {}, t.description)))))
      : h("p", { class: "muted" }, "The server lists no tools."), accept);
  }

  showSummary();
  page(`MCP server ${server.name}`, summary, connect, h("div", { class: "row" }, refresh, forget, remove), status, errors,
    h("h2", {}, "Tools"), tools);
  if (server.connected) await loadTools(false).catch((error) => tools.replaceChildren(errorBox(error)));
}

registerPage({ path: "/mcp-servers", view: viewServers, nav: { label: "MCP servers", order: 65 } });
registerPage({ path: "/mcp-servers/:id", view: viewServer });
