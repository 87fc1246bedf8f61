// Past conversations: every session, reopen one in the chat (and continue it), delete.
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { agentLabel, announce, h, items, listAll, plural, showError, when } from "../ui.js";

async function viewSessions({ page }) {
  page("Conversations", h("p", { class: "muted" }, "Loading…"));
  const [sessions, agents] = await Promise.all([
    api.get("/sessions" + api.query({ limit: 100 })).then(items),
    listAll("/agents"),
  ]);
  const names = new Map(agents.map((a) => [a.id, agentLabel(a)]));
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const list = h("ul", { class: "cards" }, sessions.map((s) => {
    const card = h("li", { class: "card" },
      h("h2", {}, h("a", { href: `#/chat/${s.agent_id}?session=${s.id}` }, s.title || "Untitled conversation")),
      h("p", { class: "muted" }, `${names.get(s.agent_id) || "a deleted agent"} · ${plural(s.message_count || 0, "message")} · ${when(s.updated_at)}`),
      h("button", {
        type: "button", class: "secondary",
        "aria-label": `Delete conversation ${s.title || s.id}`,
        onclick: async () => {
          if (!confirm(`Delete "${s.title || "this conversation"}"?`)) return;
          try {
            await api.del(`/sessions/${s.id}`);
            card.remove();
            announce("Conversation deleted");
          } catch (error) {
            showError(errors, error);
          }
        },
      }, "Delete"));
    return card;
  }));
  page("Conversations", errors,
    sessions.length ? list : h("p", { class: "muted" }, "No conversations yet. ", h("a", { href: "#/chat" }, "Start one"), "."));
}

registerPage({ path: "/sessions", view: viewSessions, nav: { label: "Conversations", order: 25 } });
