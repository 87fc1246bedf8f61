// The signed-in user in the header: name and Sign out, or a Sign in link.
import * as api from "./api.js";
import { h } from "./ui.js";
import { signInHref } from "./router.js";

export function renderAccount() {
  const box = document.getElementById("account");
  const current = api.session();
  if (!current) {
    box.replaceChildren(h("a", { href: signInHref() }, "Sign in"));
    return;
  }
  box.replaceChildren(
    h("span", { class: "muted" }, "Signed in as ", h("strong", {}, current.username || "you")),
    h("button", {
      class: "secondary",
      type: "button",
      onclick: async () => {
        await api.logout();
        renderAccount();
        location.hash = "#/login";
      },
    }, "Sign out"),
  );
}

document.addEventListener("auth-expired", () => {
  renderAccount();
  if (!api.session()) location.hash = signInHref();
});
window.addEventListener("hashchange", () => {
  if (!api.session()) renderAccount(); // keeps the Sign in link's return address current
});
