// Personal access tokens: create one (its secret is shown once), list them, revoke one.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { announce, busy, h, label, showError, when } from "../ui.js";

const SCOPES = ["agents:read", "agents:write", "runs", "marketplace:write", "webhooks", "schedules"];

async function viewTokens({ page }) {
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const secretBox = h("div", { class: "stack", hidden: true, role: "status" });
  const list = h("ul", { class: "tokens", "aria-label": "Your tokens" });
  const name = h("input", { id: "token-name", name: "name", required: true, maxlength: "100" });
  const days = h("input", { id: "token-days", name: "expires_in_days", type: "number", min: "1", max: "366", value: "90" });
  const boxes = SCOPES.map((scope) => h("input", { type: "checkbox", name: "scope", value: scope, checked: scope === "runs" }));
  const create = h("button", { type: "submit" }, "Create token");
  const form = h("form", { class: "stack", "aria-labelledby": "new-token" },
    h("h2", { id: "new-token" }, "New token"),
    label("Name", name),
    label("Expires in days (empty: never)", days),
    h("fieldset", {}, h("legend", {}, "Scopes"), boxes.map((box) => h("label", {}, box, ` ${box.value}`))),
    create);

  async function refresh() {
    const body = await api.get("/auth/tokens");
    list.replaceChildren(...body.items.map((token) => {
      const revoke = h("button", { type: "button", "aria-label": `Revoke ${token.name}` }, "Revoke");
      revoke.addEventListener("click", () => busy(revoke, async () => {
        await api.del(`/auth/tokens/${encodeURIComponent(token.id)}`);
        announce(`Token ${token.name} revoked`);
        await refresh();
      }).catch((error) => showError(errors, error)));
      return h("li", { "data-token-id": token.id },
        h("strong", {}, token.name), " ", h("code", {}, token.hint), ` — ${token.scopes.join(", ")}`,
        ` — expires ${token.expires_at ? when(token.expires_at) : "never"}, last used ${when(token.last_used_at)} `,
        revoke);
    }));
    if (!body.items.length) list.append(h("li", {}, "No tokens yet."));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(errors, null);
    busy(create, async () => {
      const body = { name: name.value, scopes: boxes.filter((b) => b.checked).map((b) => b.value) };
      if (days.value) body.expires_in_days = Number(days.value);
      const created = await api.post("/auth/tokens", body);
      const secret = h("input", { id: "token-secret", readonly: true, value: created.secret, size: "50" });
      secretBox.replaceChildren(
        h("p", {}, h("strong", {}, "Copy this token now: it is not shown again.")),
        label("Token", secret));
      secretBox.hidden = false;
      secret.select();
      announce(`Token ${created.token.name} created`);
      await refresh();
    }).catch((error) => showError(errors, error));
  });

  page("Access tokens",
    h("p", {}, "Personal access tokens let scripts, CI and other clients (the OpenAI-compatible API, AG-UI) use your agents."),
    errors, secretBox, form, h("h2", {}, "Your tokens"), list);
  await refresh();
}

registerPage({ path: "/tokens", view: viewTokens, nav: { label: "Tokens", order: 70 } });
