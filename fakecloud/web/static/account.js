// /account: change the password; create and revoke access tokens (each shown once).
import { api, el, localTime, toast, copyText } from "./lib.js";

function input(id, label, attributes = {}) {
  const box = el("input", { id, name: id, ...attributes });
  return [el("div", { class: "field" }, el("label", { for: id, text: label }), box), box];
}

function passwordCard() {
  const [currentField, current] = input("current-password", "Current password", { type: "password", autocomplete: "current-password" });
  const [newField, fresh] = input("new-password", "New password", { type: "password", autocomplete: "new-password", minlength: 8 });
  const [repeatField, repeat] = input("repeat-password", "Repeat the new password", { type: "password", autocomplete: "new-password" });
  const error = el("div", { class: "error", role: "alert" });
  const form = el("form", { class: "card", id: "password-form" }, el("h2", { text: "Change password" }),
    currentField, newField, repeatField, error, el("button", { class: "primary", type: "submit", text: "Change password" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (fresh.value !== repeat.value) {
      error.textContent = "The two new passwords differ.";
      return;
    }
    try {
      const done = await api("api/account/password", { method: "POST", body: { current: current.value, new: fresh.value } });
      form.reset();
      toast(`Password changed; ${done.sessions_ended} other session(s) signed out`);
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  return form;
}

function tokensCard(account, redraw) {
  const revoke = (token) => async () => {
    if (!confirm(`Revoke the token "${token.label}"? Whatever uses it stops working.`)) return;
    await api(`api/account/tokens/${token.id}`, { method: "DELETE" });
    toast("Token revoked");
    redraw();
  };
  const rows = account.tokens.map((token) => el("tr", {},
    el("td", { text: token.label }), el("td", { class: "muted", text: localTime(token.created) }),
    el("td", {}, el("button", { class: "small danger", text: "Revoke", onclick: revoke(token) }))));
  const table = rows.length
    ? el("table", { class: "list", id: "tokens" }, el("tr", {}, el("th", { text: "For" }), el("th", { text: "Created" }), el("th")), rows)
    : el("p", { class: "muted", id: "tokens", text: "No tokens yet." });
  const [labelField, label] = input("token-label", "What is it for?", { value: "home-assistant", pattern: "[A-Za-z0-9_\\-]+", maxlength: 64 });
  const shown = el("div", { id: "new-token" });
  const form = el("form", { id: "token-form" }, el("div", { class: "row" }, labelField,
    el("button", { class: "primary", type: "submit", text: "Create token" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const issued = await api("api/account/tokens", { method: "POST", body: { label: label.value } });
      const box = el("input", { readonly: true, value: issued.token, id: "token-value", "aria-label": "The new token" });
      await redraw();
      document.getElementById("new-token").replaceChildren(el("div", { class: "secret" },
        el("strong", { text: "Copy it now: it is not shown again." }),
        el("div", { class: "url" }, el("span", { text: issued.label }), box,
          el("button", { class: "small", text: "Copy", onclick: () => copyText(issued.token) }))));
    } catch (failure) {
      toast("No token: " + failure.message);
    }
  });
  return el("section", { class: "card" }, el("h2", { text: "Access tokens" }),
    el("p", { class: "muted", text: "For Home Assistant, an NVR or a script: send it as \"Authorization: Bearer <token>\", or as the password with your login." }),
    table, shown, form);
}

export async function draw(main) {
  const redraw = async () => {
    const account = await api("api/account");
    main.replaceChildren(
      el("div", { class: "page-head" }, el("div", {}, el("h1", { text: "Account" }),
        el("span", { class: "sub", text: `Signed in as ${account.login} · since ${localTime(account.created)}` }))),
      el("div", { class: "stack" }, tokensCard(account, redraw), passwordCard()));
  };
  await redraw();
}
