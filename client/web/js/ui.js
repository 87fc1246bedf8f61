// Shared building blocks for pages. The DOM is built with h() (never innerHTML with API
// data), so names and outputs from the API cannot inject markup.
import * as api from "./api.js";

export const TERMINAL_EVENTS = new Set(["run.completed", "run.failed", "run.cancelled"]);

// A run whose answer the output-token limit cut (finish_reason "length") still succeeds: say so.
export const CUT_NOTE = "answer cut at the output limit";
export function finishNote(run) {
  return run && run.status === "succeeded" && run.finish_reason === "length" ? ` · ${CUT_NOTE}` : "";
}
export const TERMINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function announce(message) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = message), 50);
}

export function errorBox(error, id) {
  const box = h("div", { class: "errors", role: "alert", id });
  showError(box, error);
  return box;
}

export function showError(box, error) {
  box.replaceChildren();
  if (!error) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.append(h("p", { class: "error" }, error.message || String(error)));
  if (error.fields && error.fields.length) {
    box.append(h("ul", {}, error.fields.map((f) => h("li", {}, h("code", {}, f.loc || "body"), ": ", f.message))));
  }
}

export function label(text, control) {
  return h("label", {}, text, control);
}

export function when(value) {
  return value ? new Date(value).toLocaleString() : "–";
}

export function text(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** "$0.000012": the one cost format of the console and the CLI. */
export function money(value) {
  return typeof value === "number" ? `$${value.toFixed(6)}` : "–";
}

/** "1 request", "2 requests". */
export function plural(count, noun, nouns = `${noun}s`) {
  return `${count} ${count === 1 ? noun : nouns}`;
}

export function agentLabel(agent) {
  return agent.display_name || agent.name;
}

export async function busy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

/** The items of a page body (a list or {items}). */
export function items(body) {
  return Array.isArray(body) ? body : (body && body.items) || [];
}

/** Every item of a paginated list route. */
export async function listAll(path, params = {}) {
  const all = [];
  let cursor = null;
  do {
    const body = await api.get(path + api.query({ ...params, limit: 100, cursor }));
    all.push(...items(body));
    cursor = Array.isArray(body) ? null : body.next_cursor;
  } while (cursor);
  return all;
}
