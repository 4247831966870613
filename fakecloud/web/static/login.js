// /login: sign in, or on first run create the first account.
import { api, appUrl, el } from "./lib.js";

// Only a page of this app: never send someone on to another site after signing in.
function nextPath() {
  const wanted = new URLSearchParams(location.search).get("next") || "/";
  return appUrl(/^\/(?![/\\])/.test(wanted) ? wanted : "/");
}

function field(label, attributes) {
  const input = el("input", { ...attributes, id: attributes.name });
  return [el("div", { class: "field" }, el("label", { for: attributes.name, text: label }), input), input];
}

export async function draw(main, state) {
  if (state.login) {
    location.replace(nextPath());
    return;
  }
  const first = state.first_run;
  const [loginField, login] = field("Login", { name: "login", autocomplete: "username", required: true, maxlength: 128 });
  const [passwordField, password] = field("Password", {
    name: "password", type: "password", required: true, maxlength: 1024,
    autocomplete: first ? "new-password" : "current-password", minlength: first ? 8 : null,
  });
  const [confirmField, confirm] = field("Repeat the password", {
    name: "confirm", type: "password", autocomplete: "new-password", maxlength: 1024,
  });
  const error = el("div", { class: "error", role: "alert", id: "error" });
  const submit = el("button", { class: "primary", type: "submit", text: first ? "Create account" : "Sign in" });
  const form = el("form", { class: "card", id: "sign-in", novalidate: true },
    el("h1", { text: first ? "Welcome to fakecloud" : "Sign in" }),
    el("p", { text: first
      ? "No account exists yet. Create the first one: it owns the cameras that log in with it."
      : "Sign in with your fakecloud account." }),
    loginField, passwordField, first ? confirmField : null, error, submit);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!login.value || !password.value) {
      error.textContent = "Enter a login and a password.";
      return;
    }
    if (first && password.value.length < 8) {
      error.textContent = "Choose a password of at least 8 characters.";
      return;
    }
    if (first && password.value !== confirm.value) {
      error.textContent = "The two passwords differ.";
      return;
    }
    submit.disabled = true;
    try {
      const path = first ? "api/auth/first-account" : "api/auth/login";
      await api(path, { method: "POST", body: { login: login.value, password: password.value } });
      location.replace(nextPath());
    } catch (failure) {
      error.textContent = failure.status === 401 ? "Wrong login or password." : failure.message;
      password.select();
      submit.disabled = false;
    }
  });
  main.replaceChildren(el("div", { class: "auth" }, form));
  login.focus();
}
