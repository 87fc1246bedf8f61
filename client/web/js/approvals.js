// Human approval of tool calls (issue 16): the pending calls of a `requires_action` run with
// Approve / Deny buttons, and the decision sent to POST /runs/{id}/approvals.
import * as api from "./api.js";

/** The items a run still waits for. */
export function pendingItems(run) {
  const decided = new Set((run.approvals || []).map((d) => d.tool_call_id));
  return ((run.required_action && run.required_action.items) || []).filter((i) => !decided.has(i.tool_call_id));
}

/** POST the decisions; `mode: "stream"` streams the continuation through onEvent. */
export async function decide(runId, decisions, { mode = "stream", onEvent, signal } = {}) {
  const path = `/runs/${encodeURIComponent(runId)}/approvals`;
  const body = { decisions, mode };
  const headers = { "Idempotency-Key": crypto.randomUUID() };
  if (mode !== "stream") return api.call("POST", path, { body, headers, signal });
  const response = await api.raw("POST", path, { body, headers: { ...headers, Accept: "text/event-stream" }, signal });
  if (!(response.headers.get("Content-Type") || "").includes("text/event-stream")) {
    const run = await response.json();
    onEvent({ event: run.status === "requires_action" ? "run.requires_action" : "run.updated", data: { run }, id: null });
    return null;
  }
  return api.readEvents(response, onEvent);
}

/**
 * A panel listing the calls `run` waits for, each with Approve and Deny (and an optional
 * reason). When every call has a decision, `onDecided(decisions)` is called once.
 */
export function approvalPanel(h, run, onDecided) {
  const items = pendingItems(run);
  const decisions = [];
  const panel = h("section", { class: "approval", role: "group", "aria-label": "Approval needed" },
    h("h3", {}, items.length === 1 ? "Approve this tool call?" : `Approve these ${items.length} tool calls?`));
  for (const item of items) {
    const reason = h("input", { name: "reason", placeholder: "Reason (optional, sent to the model on deny)", "aria-label": `Reason for ${item.tool_name}` });
    const approve = h("button", { type: "button", "data-approve": item.tool_call_id }, "Approve");
    const deny = h("button", { type: "button", class: "secondary", "data-deny": item.tool_call_id }, "Deny");
    const state = h("span", { class: "muted", role: "status" });
    const choose = (ok) => {
      approve.disabled = deny.disabled = reason.disabled = true;
      state.textContent = ok ? "approved" : "denied";
      const decision = { tool_call_id: item.tool_call_id, approve: ok, args_sha256: item.args_sha256 };
      if (!ok && reason.value.trim()) decision.reason = reason.value.trim();
      decisions.push(decision);
      if (decisions.length === items.length) onDecided(decisions);
    };
    approve.addEventListener("click", () => choose(true));
    deny.addEventListener("click", () => choose(false));
    panel.append(h("div", { class: "approval-item", "data-tool-call": item.tool_call_id },
      h("p", {}, h("code", {}, item.tool_name), item.agent_name ? ` asked by ${item.agent_name}` : ""),
      h("pre", {}, JSON.stringify(item.args, null, 2)),
      h("div", { class: "row" }, approve, deny, reason, state)));
  }
  return panel;
}
