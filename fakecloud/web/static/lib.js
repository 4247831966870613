// Shared helpers of the web app's pages: the API client, DOM building, times and live updates.

const CSRF_COOKIE = "fakecloud_csrf";

// Every URL in the pages is relative to the app's root, the page's <base href>: "/" directly,
// "/api/hassio_ingress/<token>/" behind Home Assistant's ingress (docs/ha-addon.md).
const ROOT = new URL(document.baseURI).pathname;

// The page's path as the server routes it ("/cameras/3"), whatever the root.
export function appPath() {
  return "/" + location.pathname.slice(ROOT.length);
}

// The URL of a path the server routes ("/cameras/3"), under the root and never above it.
export function appUrl(path) {
  const url = new URL("." + path, document.baseURI);
  return url.pathname.startsWith(ROOT) ? url.href : ROOT;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

function csrfToken() {
  const found = document.cookie.split("; ").find((item) => item.startsWith(CSRF_COOKIE + "="));
  return found ? found.slice(CSRF_COOKIE.length + 1) : "";
}

export function signInUrl() {
  return "login?next=" + encodeURIComponent(appPath());
}

// fetch() for the JSON API: sends the CSRF token, reads errors' `detail`, and sends someone
// whose session ended to the sign-in page.
// `body` is sent as JSON, `text` as it is (with its own Content-Type in `headers`); `raw`
// returns the Response itself.
// `keepalive` lets a request outlive the page (ending a WebRTC session as it closes).
export async function api(path, { method = "GET", body, text, headers = {}, raw = false, keepalive = false } = {}) {
  const options = { method, keepalive, headers: { "X-CSRF-Token": csrfToken(), ...headers } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  } else if (text !== undefined) {
    options.body = text;
  }
  const reply = await fetch(path, options);
  if (reply.status === 401 && !path.startsWith("api/auth/")) {
    location.assign(signInUrl());
    throw new ApiError(401, "signed out");
  }
  if (!reply.ok) {
    let detail = reply.statusText;
    try {
      const data = await reply.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch { /* not JSON */ }
    throw new ApiError(reply.status, detail);
  }
  if (raw) return reply;
  return reply.status === 204 ? null : reply.json();
}

// el("div", {class: "x", onclick: f}, child, "text"): an element, with no HTML parsing.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  camera: "M4 7h3l2-2h6l2 2h3v12H4z M12 10a3.5 3.5 0 1 0 0 7a3.5 3.5 0 1 0 0-7",
  offline: "M3 3l18 18 M8.5 5H15l2 2h3v10 M4 7v12h13 M9.5 10.5a3.5 3.5 0 0 0 4.9 4.9",
  wait: "M12 3a9 9 0 1 0 9 9 M12 7v5l3 2",
};

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.6");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

// A camera without a name is shown by its MAC (its alias repeats the owner's random alias).
export function cameraName(camera) {
  return camera.name || camera.mac;
}

export function relativeTime(iso) {
  if (!iso) return "never";
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 45) return "just now";
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (seconds >= size) {
      const count = Math.floor(seconds / size);
      return `${count} ${unit}${count === 1 ? "" : "s"} ago`;
    }
  }
  return "just now";
}

export function localTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function statusPill(camera) {
  const state = camera.pending ? "pending" : camera.online ? "online" : "offline";
  const label = camera.pending ? "Pending" : camera.online ? "Online" : "Offline";
  return el("span", { class: `pill ${state}`, text: label, "data-state": state });
}

let toastTimer;
export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 3500);
}

// Copy text; over plain HTTP on a LAN address the Clipboard API is missing, so the old way.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Plain HTTP on the LAN is not a secure context: no navigator.clipboard there. The old
    // way copies a selection, so the text goes into a selected, unseen text area for it.
    const area = el("textarea", { readonly: true, class: "copy-buffer", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (!copied) {
      toast("Could not copy: select the text and copy it");
      return;
    }
  }
  toast("Copied");
}

// Server-sent camera changes (GET /api/live). `onChange({camera_id, state})` for each;
// `onConnect()` whenever the stream (re)connects, so a page can refetch what it missed.
// <body data-live> says whether the page is receiving them ("connected" or "waiting").
export function listenForCameras(onChange, onConnect) {
  const source = new EventSource("api/live");
  document.body.dataset.live = "waiting";
  source.addEventListener("camera", (message) => onChange(JSON.parse(message.data)));
  source.addEventListener("open", () => {
    document.body.dataset.live = "connected";
    if (onConnect) onConnect();
  });
  source.addEventListener("error", () => { document.body.dataset.live = "waiting"; });
  addEventListener("pagehide", () => source.close());
  return source;
}
