// The marketplace: search, listing pages with stats, install and rate.
import * as api from "../api.js";
import { registerPage, signInHref } from "../router.js";
import { agentLabel, busy, errorBox, h, label, showError } from "../ui.js";

async function viewMarket({ page, query: params }) {
  const q = h("input", { id: "market-q", name: "q", type: "search", value: params.q || "" });
  const category = h("input", { id: "market-category", name: "category", value: params.category || "" });
  const sort = h("select", { id: "market-sort", name: "sort" },
    ["", "rating", "installs", "recent"].map((value) => h("option", { value, selected: value === (params.sort || "") }, value || "relevance")));
  const form = h("form", { role: "search", "aria-label": "Search the marketplace", class: "row" },
    label("Search", q), label("Category", category), label("Sort by", sort), h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = "#/market" + api.query({ q: q.value.trim(), category: category.value.trim(), sort: sort.value });
  });
  const results = h("section", { "aria-label": "Results", "aria-live": "polite" }, h("p", { class: "muted" }, "Searching…"));
  page("Marketplace", form, results);
  try {
    const body = await api.get("/marketplace/listings" + api.query({ q: params.q, category: params.category, sort: params.sort, limit: 50 }));
    const listings = Array.isArray(body) ? body : body.items;
    results.replaceChildren(
      h("p", { class: "muted" }, `${listings.length} listing${listings.length === 1 ? "" : "s"}`),
      h("ul", { class: "cards" }, listings.map((listing) => {
        const stats = listing.stats || {};
        return h("li", { class: "card" },
          h("h2", {}, h("a", { href: `#/market/${listing.id}` }, listing.display_name || listing.name)),
          h("p", {}, listing.summary || listing.description || ""),
          h("p", { class: "muted" },
            `${listing.category} · ★ ${(stats.rating_avg || 0).toFixed(1)} (${stats.rating_count || 0}) · ${stats.installs || 0} installs · by ${listing.owner_username}`));
      })));
  } catch (error) {
    results.replaceChildren(errorBox(error));
  }
}

async function viewListing({ page, params }) {
  const listingId = params.id;
  const listing = await api.get(`/marketplace/listings/${encodeURIComponent(listingId)}`);
  const stats = listing.stats || {};
  const status = h("p", { role: "status" });
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const install = h("button", { type: "button" }, "Install");
  install.addEventListener("click", async () => {
    showError(errors, null);
    try {
      const agent = await busy(install, () => api.post(`/marketplace/listings/${listing.id}/install`, undefined, { headers: { "Idempotency-Key": crypto.randomUUID() } }));
      status.replaceChildren("Installed as ", h("a", { href: `#/agents/${agent.id}` }, agentLabel(agent)), ".");
    } catch (error) {
      showError(errors, error);
    }
  });
  const stars = h("select", { id: "rating-stars", name: "stars" }, [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, `${n} star${n > 1 ? "s" : ""}`)));
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
      status.textContent = `Thanks — rated ${body.stars} stars.`;
    } catch (error) {
      showError(errors, error);
    }
  });
  const definition = listing.definition || {};
  page(listing.display_name || listing.name,
    h("p", {}, listing.summary || listing.description || ""),
    h("dl", {},
      h("dt", {}, "Publisher"), h("dd", {}, listing.owner_username),
      h("dt", {}, "Category"), h("dd", {}, listing.category),
      h("dt", {}, "Tags"), h("dd", {}, (listing.tags || []).join(", ") || "–"),
      h("dt", {}, "Version"), h("dd", {}, String(listing.version)),
      h("dt", {}, "Rating"), h("dd", {}, `${(stats.rating_avg || 0).toFixed(2)} from ${stats.rating_count || 0} ratings`),
      h("dt", {}, "Installs / runs"), h("dd", {}, `${stats.installs || 0} / ${stats.runs || 0}`),
      h("dt", {}, "Tools"), h("dd", {}, (definition.tools || []).map((t) => t.name).join(", ") || "none")),
    api.session() ? h("div", { class: "row" }, install) : h("p", {}, h("a", { href: signInHref() }, "Sign in"), " to install or rate."),
    errors, status,
    api.session() ? rateForm : null,
    h("details", {}, h("summary", {}, "Definition"), h("pre", {}, JSON.stringify(definition, null, 2))));
}

registerPage({ path: "/market", view: viewMarket, auth: false, nav: { label: "Marketplace", order: 40 } });
registerPage({ path: "/market/:id", view: viewListing, auth: false });
