// The marketplace: search, listing pages with stats and reviews, install and rate.
import * as api from "../api.js";
import { registerPage, signInHref } from "../router.js";
import { agentLabel, busy, errorBox, h, items, label, plural, showError, when } from "../ui.js";

/** "★ 4.0 (3 ratings)" or "no ratings yet" — never "0.0 (0)" or a literal null. */
export function ratingText(stats) {
  const count = (stats && stats.rating_count) || 0;
  if (!count || typeof stats.rating_avg !== "number") return "no ratings yet";
  return `★ ${stats.rating_avg.toFixed(1)} (${plural(count, "rating")})`;
}

async function viewMarket({ page, query: params }) {
  const q = h("input", { id: "market-q", name: "q", type: "search", value: params.q || "" });
  const category = h("select", { id: "market-category", name: "category" }, h("option", { value: "" }, "All categories"));
  const sort = h("select", { id: "market-sort", name: "sort" },
    ["", "rating", "installs", "recent"].map((value) => h("option", { value, selected: value === (params.sort || "") }, value || "relevance")));
  const form = h("form", { role: "search", "aria-label": "Search the marketplace", class: "row" },
    label("Search", q), label("Category", category), label("Sort by", sort), h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = "#/market" + api.query({ q: q.value.trim(), category: category.value, sort: sort.value });
  });
  const results = h("section", { "aria-label": "Results", "aria-live": "polite" }, h("p", { class: "muted" }, "Searching…"));
  page("Marketplace", form, results);
  api.get("/marketplace/categories", { auth: false }).then((body) => {
    for (const c of items(body)) category.append(h("option", { value: c.id, selected: c.id === params.category }, c.name || c.id));
  }).catch(() => {});
  try {
    const body = await api.get("/marketplace/listings" + api.query({ q: params.q, category: params.category, sort: params.sort, limit: 50 }));
    const listings = items(body);
    results.replaceChildren(
      h("p", { class: "muted" }, plural(listings.length, "listing")),
      h("ul", { class: "cards" }, listings.map((listing) => h("li", { class: "card" },
        h("h2", {}, h("a", { href: `#/market/${listing.id}` }, listing.display_name || listing.name)),
        h("p", {}, listing.summary || listing.description || ""),
        h("p", { class: "muted" },
          [listing.category, ratingText(listing.stats), plural((listing.stats || {}).installs || 0, "install"),
            listing.owner_username ? `by ${listing.owner_username}` : null].filter(Boolean).join(" · "))))));
  } catch (error) {
    results.replaceChildren(errorBox(error));
  }
}

function statsList(listing) {
  const stats = listing.stats || {};
  const definition = listing.definition || {};
  const pct = (v) => (typeof v === "number" ? `${Math.round(v * 100)}%` : "not measured yet");
  return h("dl", { class: "details", id: "listing-stats" },
    h("dt", {}, "Publisher"), h("dd", {}, listing.owner_username || "–"),
    h("dt", {}, "Category"), h("dd", {}, listing.category || "–"),
    h("dt", {}, "Tags"), h("dd", {}, (listing.tags || []).join(", ") || "–"),
    h("dt", {}, "Version"), h("dd", {}, String(listing.version ?? "–")),
    h("dt", {}, "Rating"), h("dd", { id: "listing-rating" }, ratingText(stats)),
    h("dt", {}, "Installs"), h("dd", { id: "listing-installs" }, String(stats.installs || 0)),
    h("dt", {}, "Runs"), h("dd", {}, `${stats.runs || 0} (success rate ${pct(stats.success_rate)})`),
    h("dt", {}, "Model"), h("dd", {}, definition.model ? definition.model.name : "–"),
    h("dt", {}, "Tools"), h("dd", {}, (definition.tools || []).map((t) => t.name).join(", ") || "none"),
    h("dt", {}, "Published"), h("dd", {}, when(listing.published_at)));
}

async function reviewsList(listingId) {
  const body = await api.get(`/marketplace/listings/${encodeURIComponent(listingId)}/ratings` + api.query({ limit: 50 }), { auth: false });
  const reviews = items(body);
  return h("section", { "aria-labelledby": "reviews-heading", id: "reviews" },
    h("h2", { id: "reviews-heading" }, "Reviews"),
    reviews.length
      ? h("ul", { class: "reviews" }, reviews.map((r) => h("li", {},
          h("p", {}, h("strong", {}, r.username || "someone"), ` · ${"★".repeat(r.stars)}${"☆".repeat(5 - r.stars)} · ${when(r.updated_at)}`),
          r.review ? h("p", {}, r.review) : null)))
      : h("p", { class: "muted" }, "No reviews yet."));
}

async function viewListing({ page, params }) {
  const listingId = params.id;
  let listing = await api.get(`/marketplace/listings/${encodeURIComponent(listingId)}`);
  const me = api.session();
  const mine = me && me.username === listing.owner_username;
  const stats = h("div", {}, statsList(listing));
  const reviews = h("div", {}, await reviewsList(listingId).catch((error) => errorBox(error)));
  const refresh = async () => {
    listing = await api.get(`/marketplace/listings/${encodeURIComponent(listingId)}`);
    stats.replaceChildren(statsList(listing));
    reviews.replaceChildren(await reviewsList(listingId).catch((error) => errorBox(error)));
  };
  const status = h("p", { role: "status" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const install = h("button", { type: "button" }, "Install");
  install.addEventListener("click", async () => {
    showError(errors, null);
    status.replaceChildren();
    try {
      const agent = await busy(install, () => api.post(`/marketplace/listings/${listing.id}/install`, undefined, { headers: { "Idempotency-Key": crypto.randomUUID() } }));
      // The figures first, then the message: once it shows, the page is consistent.
      await refresh().catch(() => {});
      status.replaceChildren("Installed as ", h("a", { href: `#/agents/${agent.id}` }, agentLabel(agent)), ".");
    } catch (error) {
      showError(errors, error);
    }
  });
  const stars = h("select", { id: "rating-stars", name: "stars" }, [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, plural(n, "star"))));
  const review = h("textarea", { id: "rating-review", name: "review", rows: 2 });
  const rateForm = h("form", { class: "stack", "aria-labelledby": "rate-heading" },
    h("h2", { id: "rate-heading" }, "Rate this agent"), label("Stars", stars), label("Review (optional)", review),
    h("button", { type: "submit" }, "Submit rating"));
  rateForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      const body = { stars: Number(stars.value) };
      if (review.value.trim()) body.review = review.value.trim();
      await busy(rateForm.querySelector("button"), () => api.put(`/marketplace/listings/${listing.id}/ratings/me`, body));
      status.textContent = `Thanks — rated ${plural(body.stars, "star")}.`;
      await refresh();
    } catch (error) {
      showError(errors, error);
    }
  });
  let actions;
  if (!me) actions = h("p", {}, h("a", { href: signInHref() }, "Sign in"), " to install or rate.");
  else if (mine) actions = h("p", { class: "notice" }, "This is your listing. ", h("a", { href: `#/agents/${listing.agent_id}` }, "Manage it from your agent"), ".");
  else actions = h("div", { class: "row" }, install);
  page(listing.display_name || listing.name,
    h("p", {}, listing.summary || listing.description || ""),
    stats, actions, errors, status,
    me && !mine ? rateForm : null,
    reviews,
    h("details", {}, h("summary", {}, "Definition"), h("pre", {}, JSON.stringify(listing.definition || {}, null, 2))));
}

registerPage({ path: "/market", view: viewMarket, auth: false, nav: { label: "Marketplace", order: 40 } });
registerPage({ path: "/market/:id", view: viewListing, auth: false });
