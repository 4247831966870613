// /setup: the steps a newcomer takes, in order: the announce address, DNS (who asked for the
// vendor names; the recipe for their router), the CA for phones, onboarding a camera, and
// waiting for it (live, from /api/live).
import { api, el, cameraName, copyText, listenForCameras, relativeTime, statusPill } from "./lib.js";

function step(number, title, ...body) {
  return el("section", { class: "card step", id: `step-${number}` },
    el("h2", {}, el("span", { class: "step-number", text: String(number) }), title), ...body);
}

function copyable(id, text) {
  const box = el("pre", { class: "snippet", id, text });
  return [box, el("button", { class: "small", id: `${id}-copy`, text: "Copy", onclick: () => copyText(box.textContent) })];
}

function announceStep(status) {
  return step(1, "The announce address",
    el("p", {}, "fakecloud tells cameras and DNS to use ", el("strong", { id: "announce", text: status.announce_address }),
      ". It must be this machine's address on the cameras' network. If it is wrong, set ",
      el("code", { text: "FAKECLOUD_ANNOUNCE_ADDRESS" }), " and restart fakecloud."));
}

// Who asked the DNS shim for which vendor name (its first ask per device), and names outside
// the catalogue (the shim's `dns` captures).
function dnsAskers(dns, lookups) {
  const asked = (dns && dns.asked) || [];
  const redirected = dns ? dns.counters.redirected : 0;
  const summary = !dns ? "The DNS shim is not running here: your router must answer the vendor names (below)."
    : dns.running === false ? `The DNS shim is not running: ${dns.error}. Fix: ${dns.fix}`
      : `The DNS shim listens on ${dns.address} and has answered ${redirected} vendor lookup(s) with the announce address.`;
  const askers = asked.slice().reverse().map((entry) => el("li", {},
    el("span", {}, el("span", { class: "mono", text: entry.name }), " ",
      el("span", { class: "muted", text: entry.redirected ? "answered with fakecloud" : "passed on to the real DNS" })),
    el("span", { class: "muted", text: `${entry.client} · ${relativeTime(entry.at)}` })));
  const unknown = lookups.map((record) => el("li", {}, el("span", { class: "mono", text: record.name }),
    el("span", { class: "muted", text: `asked by ${record.peer}` })));
  const none = dns && dns.running !== false
    ? "No device has asked the shim for a vendor name since fakecloud started: the cameras' DNS does not lead here yet."
    : "The shim cannot tell which devices ask: check with your router's DNS log.";
  const asking = askers.length
    ? [el("p", { text: "Devices that asked the shim for a vendor name (newest first):" }), el("ul", { class: "events", id: "dns-askers" }, askers)]
    : [el("p", { class: "muted", id: "dns-askers", text: none })];
  const strangers = unknown.length
    ? [el("p", { text: "Vendor names fakecloud did not know yet:" }), el("ul", { class: "events", id: "dns-unknown" }, unknown)]
    : [];
  return [el("p", { id: "dns-summary", text: summary }), ...asking, ...strangers];
}

async function recipeBlock() {
  const first = await api("api/dns/recipe");
  const picker = el("select", { id: "router", "aria-label": "Your router" },
    first.routers.map((name) => el("option", { value: name, text: name })));
  const [box, copy] = copyable("recipe", first.text);
  picker.addEventListener("change", async () => {
    box.textContent = (await api(`api/dns/recipe?router=${encodeURIComponent(picker.value)}`)).text;
  });
  return [el("p", { text: "Or let your router answer them: pick it and add these lines to its DNS settings." }),
    el("div", { class: "row" }, el("div", { class: "field" }, el("label", { for: "router", text: "Router" }), picker), copy),
    box];
}

function caStep() {
  const link = (href, text) => el("a", { class: "button small", href, text });
  return step(3, "The certificate for phones",
    el("p", { text: "Phones and computers that talk to fakecloud over TLS need its certificate authority. Open this page on the phone and tap the download for it:" }),
    el("div", { class: "row", id: "ca-links" }, link("ca.mobileconfig", "iPhone / iPad"), link("ca.der", "Android / Windows"), link("ca.pem", "PEM (Linux, macOS)")));
}

function field(id, label, attributes = {}) {
  return el("div", { class: "field" }, el("label", { for: id, text: label }), el("input", { id, name: id, ...attributes }));
}

// One line of the setup's progress stream (routes_onboard): a step, or the outcome.
function progressLine(list, verdict, line) {
  if (line.result === undefined) {
    list.append(el("li", { "data-step": line.step }, el("span", { class: "step-number", text: String(line.number) }),
      el("span", {}, el("strong", { text: line.step }), " ", line.message)));
    return;
  }
  const failed = line.result === "failed";
  const said = failed ? `Setup stopped${line.step ? ` at ${line.step}` : ""}: ${line.what}` : `Done: ${line.what}`;
  verdict.replaceChildren(el("p", { class: failed ? "error" : "done", text: said }),
    ...(line.fix ? [el("p", { class: "fix", text: `Fix: ${line.fix}` })] : []));
  verdict.dataset.result = line.result;
}

async function runSetup(form, list, verdict) {
  const value = (name) => form.elements[name].value;
  list.replaceChildren();
  verdict.replaceChildren(el("p", { class: "muted", text: "Talking to the camera..." }));
  delete verdict.dataset.result;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const reply = await api("api/setup-camera", { method: "POST", raw: true, body: {
      camera_ip: value("setup-camera-ip"), camera_port: Number(value("setup-camera-port")), ssid: value("setup-ssid"),
      wifi_password: value("setup-wifi-password"), password: value("setup-password"), name: value("setup-name"),
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" } });
    const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      const lines = (pending + chunk).split("\n");
      pending = lines.pop();
      for (const line of lines) if (line.trim()) progressLine(list, verdict, JSON.parse(line));
    }
  } catch (error) {
    verdict.replaceChildren(el("p", { class: "error", text: error.message }));
    verdict.dataset.result = "failed";
  } finally {
    form.elements["setup-password"].value = "";
    form.elements["setup-wifi-password"].value = "";
    button.disabled = false;
  }
}

function commandLine(status, login, form) {
  const quoted = (name) => `'${form.elements[name].value.replaceAll("'", "'\\''")}'`;
  const command = () => "printf '%s\\n%s\\n' \"$WIFI_PASSWORD\" \"$ACCOUNT_PASSWORD\" | fakecloud setup-camera \\\n"
    + `  --camera-ip ${form.elements["setup-camera-ip"].value} --ssid ${quoted("setup-ssid")} --wifi-password-stdin \\\n`
    + `  --account '${login}' --account-password-stdin --name ${quoted("setup-name")} \\\n`
    + `  --server-host ${status.announce_address}`;
  const [box, copy] = copyable("setup-command", command());
  form.addEventListener("input", () => { box.textContent = command(); });
  return el("details", { id: "setup-cli" }, el("summary", { text: "Or from a terminal: fakecloud setup-camera" }),
    el("p", { class: "muted", text: "The same steps; the secrets stay on standard input, never in the page." }), box, copy);
}

function onboardingStep(status, login) {
  const list = el("ol", { class: "events", id: "setup-progress" });
  const verdict = el("div", { id: "setup-result", "aria-live": "polite" });
  const form = el("form", { id: "setup-form", autocomplete: "off" },
    el("div", { class: "row" },
      field("setup-camera-ip", "Camera address", { value: "10.68.68.22", inputmode: "decimal", required: true }),
      field("setup-camera-port", "Port", { value: "80", type: "number", min: "1", max: "65535", required: true }),
      field("setup-name", "Camera name", { value: "Porch", required: true, maxlength: "64" })),
    el("div", { class: "row" },
      field("setup-ssid", "Wi-Fi name", { value: "Home Wi-Fi", required: true, maxlength: "32" }),
      field("setup-wifi-password", "Wi-Fi password", { type: "password", maxlength: "64" })),
    el("div", { class: "row" },
      field("setup-password", `Password of ${login}`, { type: "password", required: true, autocomplete: "current-password" }),
      el("button", { type: "submit", class: "primary", text: "Set up camera" })));
  form.addEventListener("submit", (event) => { event.preventDefault(); runSetup(form, list, verdict); });
  return step(4, "Put the camera on your Wi-Fi",
    el("p", {}, "Switch the camera to setup mode (the switch on the back) and join this fakecloud machine to its ",
      el("code", { text: "NetCamXXXX" }), " Wi-Fi (a second adapter keeps the LAN). fakecloud then tells the camera its cloud, joins it to your Wi-Fi and signs it in to your account, step by step. Or set it up with the old app, with DNS already pointing at fakecloud."),
    form, list, verdict, commandLine(status, login, form));
}

function seenList(cameras) {
  if (!cameras.length) {
    return el("p", { class: "muted", id: "seen", text: "No camera has logged in yet. This list updates by itself." });
  }
  return el("ul", { class: "events", id: "seen" }, cameras.map((camera) =>
    el("li", { "data-camera": camera.id },
      el("a", { href: `cameras/${camera.id}`, text: cameraName(camera) }),
      el("span", { class: "muted", text: `${camera.last_ip || ""} · ${relativeTime(camera.last_seen)}` }),
      statusPill(camera))));
}

async function waitingStep() {
  const holder = el("div", {}, seenList(await api("api/cameras")));
  const refresh = async () => holder.replaceChildren(seenList(await api("api/cameras")));
  listenForCameras(refresh, refresh);
  return step(5, "Waiting for your camera",
    el("p", { text: "Cameras that have logged in to fakecloud. A new camera shows as Pending until you approve it on the Cameras page." }),
    holder);
}

export async function draw(main, state) {
  const status = await api("api/status");
  const dns = status.parts.dns;
  const lookups = (await api("api/captures?kind=dns&limit=20")).records;
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: "Set up" }),
      el("span", { class: "sub", text: "From a fresh install to a camera on the Cameras page." }))),
    el("div", { class: "stack" },
      announceStep(status),
      step(2, "DNS: lead the cameras to fakecloud",
        el("p", { text: "The cameras look up their vendor's servers by name; those names must answer with the announce address." }),
        ...dnsAskers(dns, lookups), ...(await recipeBlock())),
      caStep(), onboardingStep(status, state.login), await waitingStep()));
}
