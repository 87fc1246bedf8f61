// Sign in, or create an account (then signed in). Returns to ?next= afterwards.
import * as api from "../api.js";
import { renderAccount } from "../account.js";
import { registerPage } from "../router.js";
import { announce, busy, h, label, showError } from "../ui.js";

function destination(query) {
  const next = query.next || "";
  return next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/agents";
}

function viewLogin({ page, query }) {
  const loginError = h("div", { class: "errors", role: "alert", hidden: true, id: "login-error" });
  const loginForm = h("form", { class: "stack", "aria-labelledby": "login-heading" },
    h("h2", { id: "login-heading" }, "Sign in"),
    label("Username", h("input", { name: "username", autocomplete: "username", required: true })),
    label("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    loginError,
    h("button", { type: "submit" }, "Sign in"),
  );
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(loginForm);
    try {
      await busy(loginForm.querySelector("button"), () => api.login(data.get("username"), data.get("password")));
      renderAccount();
      announce("Signed in");
      location.hash = destination(query);
    } catch (error) {
      showError(loginError, error);
    }
  });

  const registerError = h("div", { class: "errors", role: "alert", hidden: true, id: "register-error" });
  const registerForm = h("form", { class: "stack", "aria-labelledby": "register-heading" },
    h("h2", { id: "register-heading" }, "Create an account"),
    label("New username", h("input", { name: "username", autocomplete: "username", required: true, minlength: 3 })),
    label("Email", h("input", { name: "email", type: "email", autocomplete: "email", required: true })),
    label("New password", h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
    registerError,
    h("button", { type: "submit" }, "Create account"),
  );
  registerForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(registerForm);
    try {
      await busy(registerForm.querySelector("button"), async () => {
        await api.register(data.get("username"), data.get("email"), data.get("password"));
        await api.login(data.get("username"), data.get("password"));
      });
      renderAccount();
      announce("Account created, signed in");
      location.hash = destination(query);
    } catch (error) {
      showError(registerError, error);
    }
  });
  page("Sign in", h("div", { class: "columns" }, loginForm, registerForm));
}

registerPage({ path: "/login", view: viewLogin, auth: false });
