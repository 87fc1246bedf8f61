// Webhooks: endpoints (secret shown once), test, rotate, enable/disable, and the delivery log.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { busy, errorBox, h, label, showError, when } from "../ui.js";

const EVENTS = ["run.completed", "run.failed", "run.cancelled", "run.requires_action", "batch.completed", "schedule.paused", "webhook.disabled"];

function secretNotice(secret) {
  return h("div", { class: "notice", role: "status" },
    h("p", {}, "Signing secret — copy it now, it is not shown again:"), h("pre", {}, h("code", { id: "webhook-secret" }, secret)));
}

async function viewWebhooks({ page }) {
  const url = h("input", { id: "webhook-url", name: "url", type: "url", required: true, placeholder: "https://example.com/hooks" });
  const boxes = EVENTS.map((event) => h("label", {}, h("input", { type: "checkbox", name: "events", value: event, checked: event.startsWith("run.") && event !== "run.requires_action" }), ` ${event}`));
  const description = h("input", { id: "webhook-description", name: "description" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const created = h("div", {});
  const submit = h("button", { type: "submit" }, "Add endpoint");
  const form = h("form", { class: "stack", "aria-labelledby": "new-webhook" },
    h("h2", { id: "new-webhook" }, "New endpoint"), label("URL", url),
    h("fieldset", {}, h("legend", {}, "Events"), ...boxes), label("Description", description), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    const events = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    try {
      const result = await busy(submit, () => api.post("/webhooks", { url: url.value.trim(), events, description: description.value }));
      created.replaceChildren(secretNotice(result.secret), h("p", {}, h("a", { href: `#/webhooks/${result.webhook.id}` }, "Open the endpoint")));
      await refresh();
    } catch (error) {
      showError(errors, error);
    }
  });
  const list = h("section", { "aria-label": "Endpoints", "aria-live": "polite" });
  async function refresh() {
    try {
      const body = await api.get("/webhooks" + api.query({ limit: 100 }));
      list.replaceChildren(body.items.length
        ? h("table", {},
            h("thead", {}, h("tr", {}, ["Endpoint", "Events", "Status", "Failing since"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, body.items.map((w) => h("tr", {},
              h("td", {}, h("a", { href: `#/webhooks/${w.id}` }, w.url)), h("td", {}, w.events.join(", ")),
              h("td", {}, w.status + (w.disabled_reason ? ` (${w.disabled_reason})` : "")), h("td", {}, when(w.failing_since))))))
        : h("p", { class: "muted" }, "No endpoints yet."));
    } catch (error) {
      list.replaceChildren(errorBox(error));
    }
  }
  page("Webhooks", h("div", { class: "columns" }, h("section", {}, form, errors, created), list));
  await refresh();
}

async function viewWebhook({ page, params }) {
  const base = `/webhooks/${encodeURIComponent(params.id)}`;
  let webhook = await api.get(base);
  const status = h("p", { role: "status" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const secret = h("div", {});
  const summary = h("dl", {});
  const log = h("section", { "aria-label": "Delivery log", "aria-live": "polite" });
  let cursor = null;

  function showSummary() {
    summary.replaceChildren(
      h("dt", {}, "URL"), h("dd", {}, webhook.url),
      h("dt", {}, "Events"), h("dd", {}, webhook.events.join(", ")),
      h("dt", {}, "Status"), h("dd", {}, webhook.status + (webhook.disabled_reason ? ` (${webhook.disabled_reason})` : "")),
      h("dt", {}, "Failing since"), h("dd", {}, when(webhook.failing_since)),
      h("dt", {}, "Old secret signs until"), h("dd", {}, when(webhook.previous_secret_expires_at)));
    toggle.textContent = webhook.status === "active" ? "Disable" : "Enable";
  }

  const action = (button, work) => button.addEventListener("click", async () => {
    showError(errors, null);
    try {
      await busy(button, work);
    } catch (error) {
      showError(errors, error);
    }
  });
  const test = h("button", { type: "button" }, "Send test event");
  action(test, async () => {
    const delivery = await api.post(`${base}/test`);
    status.textContent = `Test ${delivery.status}: ${delivery.last_response_code ?? delivery.last_error ?? ""} in ${delivery.last_latency_ms ?? "–"} ms`;
    await loadLog(true);
  });
  const rotate = h("button", { type: "button" }, "Rotate secret");
  action(rotate, async () => {
    const result = await api.post(`${base}/rotate-secret`);
    webhook = result.webhook;
    secret.replaceChildren(secretNotice(result.secret));
    showSummary();
  });
  const toggle = h("button", { type: "button" }, "Disable");
  action(toggle, async () => {
    webhook = await api.call("PATCH", base, { body: { enabled: webhook.status !== "active" } });
    showSummary();
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  action(remove, async () => {
    if (!confirm("Delete this endpoint and its delivery log?")) return;
    await api.del(base);
    location.hash = "#/webhooks";
  });

  const more = h("button", { type: "button", hidden: true }, "Older deliveries");
  more.addEventListener("click", () => loadLog(false).catch((error) => showError(errors, error)));
  const rows = h("tbody", {});
  async function loadLog(reset) {
    if (reset) {
      cursor = null;
      rows.replaceChildren();
    }
    const body = await api.get(`${base}/deliveries` + api.query({ limit: 20, cursor }));
    rows.append(...body.items.map((d) => {
      const again = h("button", { type: "button" }, "Redeliver");
      action(again, async () => {
        await api.post(`${base}/deliveries/${encodeURIComponent(d.id)}/redeliver`);
        status.textContent = `Delivery ${d.id} queued again.`;
      });
      return h("tr", {},
        h("td", {}, h("code", {}, d.id)), h("td", {}, d.event_type), h("td", {}, d.status), h("td", {}, String(d.attempts)),
        h("td", {}, d.last_response_code == null ? (d.last_error || "–") : String(d.last_response_code)),
        h("td", {}, d.last_latency_ms == null ? "–" : `${d.last_latency_ms} ms`), h("td", {}, when(d.next_attempt_at)),
        h("td", {}, when(d.created_at)), h("td", {}, d.status === "succeeded" || d.status === "failed" ? again : ""));
    }));
    cursor = body.next_cursor;
    more.hidden = !cursor;
    log.replaceChildren(rows.children.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Delivery (webhook-id)", "Event", "Status", "Attempts", "Last response", "Latency", "Next attempt", "Created", ""].map((c) => h("th", { scope: "col" }, c)))), rows)
      : h("p", { class: "muted" }, "No deliveries yet."), more);
  }
  showSummary();
  page(`Webhook ${webhook.url}`, summary, h("div", { class: "row" }, test, rotate, toggle, remove), status, errors, secret,
    h("h2", {}, "Delivery log"), log);
  await loadLog(true);
}

registerPage({ path: "/webhooks", view: viewWebhooks, nav: { label: "Webhooks", order: 60 } });
registerPage({ path: "/webhooks/:id", view: viewWebhook });
