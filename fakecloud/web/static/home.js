// /: every camera as a tile, with its picture, status and last-seen time, updated live.
import { api, el, icon, cameraName, relativeTime, statusPill, listenForCameras, toast } from "./lib.js";

const PICTURE_SECONDS = 5; // how often an online camera's picture is refreshed

const tiles = new Map(); // camera id -> {camera, node, timer}

function placeholder(name, text) {
  return el("div", { class: "placeholder" }, icon(name), el("span", { text }));
}

// The picture is loaded off-screen and shown only once it decoded: never a broken image.
function refreshPicture(entry) {
  const { camera, node } = entry;
  const frame = node.querySelector(".picture");
  // A pending camera's video is its owner's once approved: until then, no picture.
  if (!camera.online || camera.pending) {
    frame.replaceChildren(placeholder("offline", camera.pending ? "Approve it to watch" : "Offline"));
    return;
  }
  const picture = new Image();
  picture.alt = "Latest picture of " + cameraName(camera);
  picture.onload = () => {
    frame.replaceChildren(picture, el("span", { class: "badge-live", text: "LIVE" }));
  };
  picture.onerror = () => {
    if (!frame.querySelector("img")) frame.replaceChildren(placeholder("wait", "Waiting for video…"));
  };
  picture.src = `${camera.paths.snapshot}?t=${Date.now()}`;
  if (!frame.querySelector("img")) frame.replaceChildren(placeholder("wait", "Loading picture…"));
}

function approveButton(camera) {
  const approve = async (event) => {
    event.preventDefault();
    try {
      await api(`api/cameras/${camera.id}/approve`, { method: "POST", body: {}, headers: { AntiCSRF: "1" } });
      toast(`${cameraName(camera)} is yours now`);
      await updateCamera(camera.id);
    } catch (failure) {
      toast("Not approved: " + failure.message);
    }
  };
  return el("button", { class: "small", onclick: approve, text: "Approve" });
}

function meta(camera) {
  if (camera.online) return `Online · ${camera.last_ip || "address unknown"}`;
  return `Last seen ${relativeTime(camera.last_seen)}`;
}

function drawTile(camera) {
  // A pending camera has no page yet: its tile is not a link until it is approved.
  const node = el(camera.pending ? "div" : "a", { class: "tile", href: camera.pending ? null : `cameras/${camera.id}`, "data-camera": camera.id },
    el("div", { class: "picture" }),
    el("div", { class: "tile-body" },
      el("div", { class: "tile-title" }, el("span", { text: cameraName(camera) }), statusPill(camera)),
      el("div", { class: "tile-meta", text: meta(camera) }),
      camera.pending ? el("div", {}, approveButton(camera)) : null));
  return node;
}

function place(camera, grid) {
  const old = tiles.get(camera.id);
  const entry = { camera, node: drawTile(camera), timer: null };
  if (old) {
    clearInterval(old.timer);
    const picture = old.node.querySelector(".picture");
    if (camera.online && old.camera.online) entry.node.querySelector(".picture").replaceWith(picture);
    old.node.replaceWith(entry.node);
  } else {
    grid.append(entry.node);
  }
  tiles.set(camera.id, entry);
  refreshPicture(entry);
  if (camera.online && !camera.pending) entry.timer = setInterval(() => refreshPicture(entry), PICTURE_SECONDS * 1000);
}

let grid, summary, empty;

function drawSummary() {
  const cameras = [...tiles.values()].map((entry) => entry.camera);
  const online = cameras.filter((camera) => camera.online).length;
  summary.textContent = cameras.length ? `${online} of ${cameras.length} online` : "";
  empty.hidden = cameras.length > 0;
  grid.hidden = cameras.length === 0;
}

function remove(id) {
  const entry = tiles.get(id);
  if (!entry) return;
  clearInterval(entry.timer);
  entry.node.remove();
  tiles.delete(id);
}

async function updateCamera(id) {
  try {
    place(await api(`api/cameras/${id}`), grid);
  } catch (failure) {
    if (failure.status === 404) remove(id);
  }
  drawSummary();
}

async function loadAll() {
  const cameras = await api("api/cameras");
  const known = new Set(cameras.map((camera) => camera.id));
  for (const id of [...tiles.keys()]) if (!known.has(id)) remove(id);
  cameras.sort((a, b) => cameraName(a).localeCompare(cameraName(b)));
  for (const camera of cameras) place(camera, grid);
  drawSummary();
}

export async function draw(main) {
  grid = el("div", { class: "grid", id: "cameras" });
  summary = el("span", { class: "sub", id: "summary" });
  empty = el("div", { class: "card empty", id: "empty", hidden: true },
    icon("camera"),
    el("h2", { text: "No cameras yet" }),
    el("p", { text: "A camera appears here as soon as it logs in to fakecloud. The setup page walks you through it: DNS for your router, then putting the camera on your Wi-Fi." }),
    el("p", {}, el("a", { class: "button primary", id: "empty-setup", href: "setup", text: "Set up a camera" })),
    el("p", {}, "A camera's connection attempts are recorded even before they are understood: see ",
      el("a", { href: "protocol", text: "Protocol" }), "."));
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: "Cameras" }), summary)),
    empty, grid);
  // Listening first: a change between the first load and the stream's start is not missed.
  listenForCameras((change) => updateCamera(change.camera_id), loadAll);
  await loadAll();
  // Last-seen times age while the page is open.
  setInterval(() => {
    for (const entry of tiles.values()) entry.node.querySelector(".tile-meta").textContent = meta(entry.camera);
  }, 30000);
}
