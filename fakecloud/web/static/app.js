// The entry point of every page: draws the top bar, then the page named by <body data-page>.
import { api, appPath, appUrl, el } from "./lib.js";

// The main navigation: [label, path the server routes].
const NAV = [
  ["Cameras", "/"],
  ["Setup", "/setup"],
  ["Status", "/status"],
  ["Protocol", "/protocol"],
  ["API", "/api/docs"],
];

function drawNav(page) {
  const here = page === "camera" ? "/" : appPath();
  document.getElementById("nav").replaceChildren(
    ...NAV.map(([label, path]) =>
      el("a", { href: appUrl(path), text: label, "aria-current": path === here ? "page" : null })),
  );
}

function drawWho(login) {
  const signOut = async () => {
    await api("api/auth/logout", { method: "POST" });
    location.assign("login");
  };
  document.getElementById("who").replaceChildren(
    el("a", { href: "account", class: "login-name", text: login, title: "Your account" }),
    el("a", { href: "account", class: "button small", text: "Account" }),
    el("button", { class: "small", id: "sign-out", onclick: signOut, text: "Sign out" }),
  );
}

async function start() {
  const page = document.body.dataset.page;
  const state = await api("api/auth/state");
  if (page !== "login") {
    drawNav(page);
    if (state.login) drawWho(state.login);
  }
  const module = await import(`./${page}.js`);
  await module.draw(document.getElementById("main"), state);
}

start();
