// API access for the console: JSON requests with bearer tokens, automatic refresh on 401
// (refresh tokens rotate), and SSE over fetch + ReadableStream (EventSource cannot send
// an Authorization header).
import config from "../config.js";

const base = (config.apiBase || "").replace(/\/$/, "");
const storageKey = `agents-console:${base || location.origin}`;

/** The API's absolute base URL (for URLs shown to other clients: MCP, A2A). */
export const absoluteBase = () => base || location.origin;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || null;
  }
  /** Field errors from a 422: [{loc, message}]. */
  get fields() {
    const fields = this.details && this.details.fields;
    return Array.isArray(fields) ? fields : [];
  }
}

export function session() {
  try {
    return JSON.parse(localStorage.getItem(storageKey) || "null");
  } catch {
    return null;
  }
}

function saveSession(value) {
  if (value) localStorage.setItem(storageKey, JSON.stringify(value));
  else localStorage.removeItem(storageKey);
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const error = body && body.error;
  if (error) return new ApiError(response.status, error.code, error.message, error.details);
  return new ApiError(response.status, "http_error", response.statusText || `HTTP ${response.status}`);
}

async function send(method, path, { body, rawBody, headers = {}, auth = true, signal } = {}) {
  const all = { ...headers };
  const current = session();
  if (auth && current) all.Authorization = `Bearer ${current.access_token}`;
  if (body !== undefined) all["Content-Type"] = "application/json";
  try {
    return await fetch(base + path, {
      method,
      headers: all,
      // rawBody: a File/Blob sent as is (workspace uploads); body: JSON.
      body: rawBody !== undefined ? rawBody : body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", "The service cannot be reached. Check your connection.");
  }
}

let refreshing = null;

async function refresh() {
  const current = session();
  if (!current || !current.refresh_token) return false;
  // One refresh at a time: a rotated refresh token must never be replayed.
  refreshing ||= (async () => {
    const response = await send("POST", "/auth/refresh", { body: { refresh_token: current.refresh_token }, auth: false });
    if (!response.ok) {
      saveSession(null);
      return false;
    }
    const tokens = await response.json();
    saveSession({ ...current, ...tokens });
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** A request that returns the Response (already checked for errors). */
export async function raw(method, path, options = {}) {
  let response = await send(method, path, options);
  if (response.status === 401 && options.auth !== false && (await refresh())) {
    response = await send(method, path, options);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.status === 401) document.dispatchEvent(new CustomEvent("auth-expired"));
    throw error;
  }
  return response;
}

export async function call(method, path, options = {}) {
  const response = await raw(method, path, options);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, options) => call("GET", path, options);
export const post = (path, body, options = {}) => call("POST", path, { ...options, body });
export const put = (path, body, options = {}) => call("PUT", path, { ...options, body });
export const del = (path, options) => call("DELETE", path, options);

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function login(username, password) {
  const tokens = await post("/auth/login", { username, password }, { auth: false });
  saveSession({ ...tokens, username });
  return tokens;
}

export async function register(username, email, password) {
  return post("/auth/register", { username, email, password }, { auth: false });
}

export async function logout() {
  const current = session();
  saveSession(null);
  if (current && current.refresh_token) {
    try {
      await post("/auth/logout", { refresh_token: current.refresh_token }, { auth: false });
    } catch {
      /* the local session is gone either way */
    }
  }
}

/**
 * Read an SSE response and call onEvent({event, data, id}) per frame as it arrives.
 * Resolves with the last event id seen.
 */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let lastId = null;
  let frame = { event: "", data: [], id: null };
  const dispatch = () => {
    if (frame.data.length || frame.event) {
      const text = frame.data.join("\n");
      let data = text;
      try {
        data = JSON.parse(text);
      } catch {
        /* plain text data */
      }
      if (frame.id !== null) lastId = frame.id;
      onEvent({ event: frame.event || "message", data, id: frame.id });
    }
    frame = { event: "", data: [], id: null };
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let index;
    while ((index = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, index).replace(/\r$/, "");
      buffer = buffer.slice(index + 1);
      if (line === "") dispatch();
      else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const fieldValue = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") frame.event = fieldValue;
        else if (field === "data") frame.data.push(fieldValue);
        else if (field === "id") frame.id = fieldValue;
      }
    }
  }
  dispatch();
  return lastId;
}

/** POST /runs in stream mode; onEvent gets run.started, text.delta, tool.call, ... */
export async function streamRun(body, onEvent, signal) {
  const response = await raw("POST", "/runs", {
    body: { ...body, mode: "stream" },
    headers: { Accept: "text/event-stream" },
    signal,
  });
  if (!(response.headers.get("Content-Type") || "").includes("text/event-stream")) {
    const run = await response.json();
    onEvent({ event: run.status === "succeeded" ? "run.completed" : "run.failed", data: { run }, id: null });
    return null;
  }
  return readEvents(response, onEvent);
}

/** GET /runs/{id}/events as SSE, resuming after lastEventId. */
export async function streamRunEvents(runId, onEvent, lastEventId, signal) {
  const headers = { Accept: "text/event-stream" };
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  const response = await raw("GET", `/runs/${encodeURIComponent(runId)}/events`, { headers, signal });
  if (!(response.headers.get("Content-Type") || "").includes("text/event-stream")) {
    const body = await response.json();
    const items = Array.isArray(body) ? body : body.items || [];
    for (const item of items) onEvent({ event: item.event || item.type, data: item.data ?? item, id: item.id ?? null });
    return null;
  }
  return readEvents(response, onEvent);
}
