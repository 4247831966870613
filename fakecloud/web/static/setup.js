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
  const input = el("input", { type: "hidden", value: text });
  return [box, el("button", { class: "small", text: "Copy", onclick: () => copyText(box.textContent, input) }), input];
}

function announceStep(status) {
  return step(1, "The announce address",
    el("p", {}, "fakecloud tells cameras and DNS to use ", el("strong", { id: "announce", text: status.announce_address }),
      ". It must be this machine's address on the cameras' network. If it is wrong, set ",
      el("code", { text: "FAKECLOUD_ANNOUNCE_ADDRESS" }), " and restart fakecloud."));
}

function dnsAskers(dns, lookups) {
  const askers = lookups.map((record) => el("li", {}, el("span", { class: "mono", text: record.name }),
    el("span", { class: "muted", text: `asked by ${record.peer}` })));
  const redirected = dns ? dns.counters.redirected : 0;
  const summary = !dns ? "The DNS shim is not running here: your router must answer the vendor names (below)."
    : dns.running === false ? `The DNS shim is not running: ${dns.error}. Fix: ${dns.fix}`
      : `The DNS shim listens on ${dns.address} and has answered ${redirected} vendor lookup(s) with the announce address.`;
  return [el("p", { id: "dns-summary", text: summary }),
    askers.length ? el("ul", { class: "events", id: "dns-askers" }, askers)
      : el("p", { class: "muted", id: "dns-askers", text: "No device has asked for a vendor name fakecloud did not know yet." })];
}

async function recipeBlock() {
  const first = await api("api/dns/recipe");
  const picker = el("select", { id: "router", "aria-label": "Your router" },
    first.routers.map((name) => el("option", { value: name, text: name })));
  const [box, copy, hidden] = copyable("recipe", first.text);
  picker.addEventListener("change", async () => {
    box.textContent = (await api(`api/dns/recipe?router=${encodeURIComponent(picker.value)}`)).text;
  });
  return [el("p", { text: "Or let your router answer them: pick it and add these lines to its DNS settings." }),
    el("div", { class: "row" }, el("div", { class: "field" }, el("label", { for: "router", text: "Router" }), picker), copy),
    box, hidden];
}

function caStep() {
  const link = (href, text) => el("a", { class: "button small", href, text });
  return step(3, "The certificate for phones",
    el("p", { text: "Phones and computers that talk to fakecloud over TLS need its certificate authority. Open this page on the phone and tap the download for it:" }),
    el("div", { class: "row", id: "ca-links" }, link("ca.mobileconfig", "iPhone / iPad"), link("ca.der", "Android / Windows"), link("ca.pem", "PEM (Linux, macOS)")));
}

function onboardingStep(status, login) {
  const ssid = el("input", { id: "setup-ssid", value: "Home Wi-Fi", "aria-label": "Wi-Fi name" });
  const name = el("input", { id: "setup-name", value: "Porch", "aria-label": "Camera name" });
  const command = () => "printf '%s\\n%s\\n' \"$WIFI_PASSWORD\" \"$ACCOUNT_PASSWORD\" | fakecloud setup-camera \\\n"
    + `  --camera-ip 10.68.68.22 --ssid '${ssid.value.replaceAll("'", "'\\''")}' --wifi-password-stdin \\\n`
    + `  --account '${login}' --account-password-stdin --name '${name.value.replaceAll("'", "'\\''")}' \\\n`
    + `  --server-host ${status.announce_address}`;
  const [box, copy, hidden] = copyable("setup-command", command());
  for (const input of [ssid, name]) input.addEventListener("input", () => { box.textContent = command(); hidden.value = box.textContent; });
  return step(4, "Put the camera on your Wi-Fi",
    el("p", {}, "Switch the camera to setup mode (the switch on the back), join its ", el("code", { text: "NetCamXXXX" }),
      " network from the fakecloud machine and run the command below: it joins the camera to your Wi-Fi and to your account. Or set it up with the old app, with DNS already pointing at fakecloud."),
    el("div", { class: "row" },
      el("div", { class: "field" }, el("label", { for: "setup-ssid", text: "Wi-Fi name" }), ssid),
      el("div", { class: "field" }, el("label", { for: "setup-name", text: "Camera name" }), name), copy),
    box, hidden);
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
