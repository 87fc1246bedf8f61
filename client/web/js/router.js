// Hash routing and the navigation. Pages register themselves (js/pages.js imports each page
// module); the router renders the matching page and the navigation from the registrations.
import * as api from "./api.js";
import { errorBox, h } from "./ui.js";

const pages = [];
let routeToken = 0;
let pageAbort = new AbortController();

/**
 * Register a page.
 *   path:  "/agents/:id" (":name?" is an optional last segment)
 *   view:  async (ctx) => …, ctx = { params, query, page(title, ...nodes), signal, path }
 *   auth:  true when the page needs a signed-in user (default true)
 *   nav:   { label, order, href? } to list it in the main navigation
 */
export function registerPage({ path, view, auth = true, nav = null }) {
  const names = [];
  const source = path
    .split("/")
    .filter(Boolean)
    .map((segment) => {
      if (!segment.startsWith(":")) return `/${segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`;
      const optional = segment.endsWith("?");
      names.push(segment.slice(1, optional ? -1 : undefined));
      return optional ? "(?:/([^/]+))?" : "/([^/]+)";
    })
    .join("");
  pages.push({ path, pattern: new RegExp(`^#${source}/?$`), names, view, auth, nav });
}

function renderNav() {
  const list = document.querySelector("nav[aria-label='Main'] ul");
  const entries = pages.filter((p) => p.nav).sort((a, b) => (a.nav.order ?? 100) - (b.nav.order ?? 100));
  list.replaceChildren(...entries.map((p) => h("li", {}, h("a", { href: p.nav.href || `#${p.path}` }, p.nav.label))));
}

function renderPage(title, ...children) {
  const main = document.getElementById("main");
  document.title = `${title} · Agents console`;
  const heading = h("h1", { id: "page-title", tabindex: "-1" }, title);
  main.replaceChildren(heading, ...children);
  // Focus moves to the new page's heading (screen readers announce it); tabindex -1 elements
  // get no focus frame (style.css), so nothing is outlined after a click.
  heading.focus({ preventScroll: true });
}

/** Where to go after signing in: the page that asked for it. */
export function signInHref(next = location.hash) {
  const plain = !next || next === "#/" || next === "#/agents" || next.startsWith("#/login");
  return plain ? "#/login" : `#/login?next=${encodeURIComponent(next)}`;
}

export function currentHash() {
  return location.hash || "#/agents";
}

async function route() {
  routeToken += 1;
  const token = routeToken;
  pageAbort.abort();
  pageAbort = new AbortController();
  const [path, search] = currentHash().split("?");
  const query = Object.fromEntries(new URLSearchParams(search || ""));
  for (const link of document.querySelectorAll("nav[aria-label='Main'] a")) {
    const href = link.getAttribute("href");
    if (path === href || path.startsWith(`${href}/`)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // A view that finishes loading after the user navigated elsewhere must not replace the newer page.
  const page = (title, ...children) => {
    if (token === routeToken) renderPage(title, ...children);
  };
  const match = pages.find((p) => p.pattern.test(path));
  if (!match) {
    location.hash = api.session() ? "#/agents" : "#/login";
    return;
  }
  if (match.auth && !api.session()) {
    location.hash = signInHref(currentHash());
    return;
  }
  const values = path.match(match.pattern).slice(1);
  const params = Object.fromEntries(match.names.map((name, i) => [name, values[i] ? decodeURIComponent(values[i]) : null]));
  try {
    await match.view({ params, query, page, signal: pageAbort.signal, path });
  } catch (error) {
    page("Something went wrong", errorBox(error));
  }
}

export function start() {
  renderNav();
  window.addEventListener("hashchange", route);
  route();
}
