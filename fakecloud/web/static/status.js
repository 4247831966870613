// /status: every part of the server for people (running or not, where it listens, what failed
// and why), and the doctor's checks in plain words on demand.
import { api, el } from "./lib.js";

// Where a part listens, from the shapes the parts' status uses: `address` (one listener) or
// `listening` (the front door's list).
function addresses(part) {
  if (Array.isArray(part.listening)) return part.listening.map((listener) => listener.address);
  return part.address ? [part.address] : [];
}

// Why a part does not (fully) run: a part that could not start says `error` and `fix`; the
// front door lists each port it could not bind in `failed`; MQTT says `last_error` while it is
// not connected; each webhook URL that gave up on deliveries says its `last_error`.
function failures(part) {
  const found = [];
  if (part.error) found.push(part.fix ? `${part.error}. Fix: ${part.fix}` : part.error);
  for (const failed of part.failed || []) found.push(`port ${failed.port}: ${failed.error}`);
  if (part.connected === false && part.last_error) found.push(`${part.broker}: ${part.last_error}`);
  for (const hook of part.endpoints || []) {
    if (hook.given_up) found.push(`${hook.url}: ${hook.given_up} not delivered (${hook.delivered} delivered); last error: ${hook.last_error}`);
  }
  return found;
}

function partState(part) {
  if (part.running === false || part.listening === false) return ["offline", "Not running"];
  return failures(part).length ? ["pending", "Partly running"] : ["online", "Running"];
}

function partCard(name, part) {
  const [state, label] = partState(part);
  const listens = addresses(part);
  return el("li", { class: "card part", "data-part": name },
    el("div", { class: "tile-title" }, el("span", { text: name }),
      el("span", { class: `pill ${state}`, "data-state": state, text: label })),
    listens.length ? el("div", { class: "muted mono", text: listens.join(" · ") }) : null,
    failures(part).map((reason) => el("p", { class: "error failure", text: reason })));
}

const CHECK_LABELS = { ok: "OK", warn: "Warning", fail: "Failed", skip: "Skipped" };
const CHECK_PILLS = { ok: "online", warn: "pending", fail: "danger", skip: "offline" };

function checkItem(check) {
  return el("li", { class: "check", "data-status": check.status },
    el("div", { class: "tile-title" }, el("strong", { text: check.name }),
      el("span", { class: `pill ${CHECK_PILLS[check.status]}`, text: CHECK_LABELS[check.status] })),
    el("p", { text: check.what }),
    check.status !== "ok" && check.why ? el("p", { class: "muted", text: `Why it matters: ${check.why}` }) : null,
    check.fix ? el("p", { class: "fix", text: `Fix: ${check.fix}` }) : null);
}

function doctorCard() {
  const result = el("div", { id: "doctor" });
  const button = el("button", { class: "primary", id: "run-doctor", text: "Run checks" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.replaceChildren(el("p", { class: "muted", text: "Checking ports, DNS, certificates and the clock…" }));
    try {
      const report = await api("api/doctor");
      const counts = report.counts;
      const verdict = report.healthy ? "Nothing would stop cameras." : "Something would stop cameras.";
      result.replaceChildren(
        el("p", { id: "doctor-verdict", class: report.healthy ? "" : "error",
          text: `${verdict} ${counts.fail} failed, ${counts.warn} warnings, ${counts.ok} OK, ${counts.skip} skipped.` }),
        el("ul", { class: "checks", id: "doctor-checks" }, report.checks.map(checkItem)));
    } catch (failure) {
      result.replaceChildren(el("p", { class: "error", text: `The checks did not run: ${failure.message}` }));
    } finally {
      button.disabled = false;
    }
  });
  return el("section", { class: "card" }, el("div", { class: "page-head" },
    el("h2", { text: "Doctor" }), button),
  el("p", { class: "muted", text: "The same checks as \"fakecloud doctor\": ports, the announce address, DNS answers, certificates, the clock, recent lookups and camera logins." }),
  result);
}

export async function draw(main) {
  const status = await api("api/status");
  const minutes = Math.round(status.uptime_seconds / 60);
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: "Server status" }),
      el("span", { class: "sub", text: `fakecloud ${status.version} · up ${minutes} min · announces ${status.announce_address}` }))),
    el("div", { class: "stack" },
      el("ul", { class: "parts", id: "parts" },
        Object.entries(status.parts).map(([name, part]) => partCard(name, part))),
      doctorCard()));
}
