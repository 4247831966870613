// /cameras/<id>: live view, snapshot, rename, video settings, stream URLs, events with their
// pictures, recordings (play, download), forget.
import { api, appPath, appUrl, el, icon, cameraName, relativeTime, localTime, statusPill, listenForCameras, toast, copyText } from "./lib.js";
import { startLiveView } from "./live-view.js";

const SIZES = ["320x180", "640x360", "1280x720"];
const CONNECTION_REFRESH_MS = 5000;
const cameraId = Number(appPath().split("/")[2]);
let camera, live = null, starting = false;
const parts = {};

function placeholder(name, text) {
  return el("div", { class: "placeholder" }, icon(name), el("span", { text }));
}

async function showLive() {
  const frame = parts.picture;
  if (!camera.online) {
    stopLive();
    frame.replaceChildren(placeholder("offline", `Offline · last seen ${relativeTime(camera.last_seen)}`));
    parts.mode.textContent = "";
    return;
  }
  if (live || starting) return;
  starting = true;
  frame.replaceChildren(placeholder("wait", "Connecting…"));
  try {
    live = await startLiveView(camera, frame);
    parts.mode.textContent = live.mode;
  } catch (failure) {
    frame.replaceChildren(placeholder("offline", "No live video: " + failure.message));
  } finally {
    starting = false;
  }
}

function stopLive() {
  if (live) live.stop();
  live = null;
}

function titleBlock() {
  const title = el("h1", { id: "camera-name", text: cameraName(camera) });
  const rename = el("button", { class: "small", id: "rename", text: "Rename" });
  const block = el("div", { class: "title-edit" }, title, statusPill(camera), rename);
  rename.addEventListener("click", () => {
    const input = el("input", { id: "new-name", value: camera.name || "", maxlength: 200, placeholder: camera.alias, "aria-label": "Camera name" });
    const save = el("button", { class: "primary small", type: "submit", text: "Save" });
    const cancel = el("button", { class: "small", type: "button", text: "Cancel", onclick: () => drawHead() });
    const form = el("form", { class: "title-edit", id: "rename-form" }, input, save, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        camera = await api(`api/cameras/${cameraId}/name`, { method: "PUT", body: { name: input.value } });
        toast("Renamed");
        drawHead();
      } catch (failure) {
        toast("Not renamed: " + failure.message);
      }
    });
    block.replaceWith(form);
    input.focus();
  });
  return block;
}

function drawHead() {
  document.title = `${cameraName(camera)} · fakecloud`;
  parts.head.replaceChildren(titleBlock(), el("a", { href: "./", class: "button small", text: "All cameras" }));
}

function snapshot() {
  const link = el("a", { href: `${camera.paths.snapshot}?t=${Date.now()}`, download: `${cameraName(camera)}.jpg` });
  document.body.append(link);
  link.click();
  link.remove();
}

function detailList(rows) {
  return el("dl", { class: "details" }, rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value ?? "—" })]));
}

// The media relay's streams for this camera: what it relays now, or that nobody watches.
function relayText(streams) {
  if (!streams || !streams.length) return "idle: nobody is watching through the relay";
  const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
  return streams.map((stream) => `${stream.kind}: ${stream.camera.length ? `from ${stream.camera.join(", ")}` : "waiting for the camera"}`
    + ` · ${plural(stream.sessions, "session")}, ${plural(stream.viewers, "viewer")}`).join("; ");
}

// `withVideoForm`: false for the periodic refresh, which must not undo someone's edits.
async function drawConnection({ withVideoForm = true } = {}) {
  const info = await api(`api/cameras/${cameraId}/connection`);
  const session = info.session
    ? `${info.session.peer} → port ${info.session.port}${info.session.tls ? " (TLS)" : ""}`
    : "not connected";
  parts.details.replaceChildren(el("h2", { text: "Connection" }), detailList([
    ["Status", camera.pending ? "pending approval" : camera.online ? "online" : "offline"],
    ["IP address", info.last_ip],
    ["Firmware", info.firmware],
    ["MAC", camera.mac],
    ["Last seen", info.last_seen ? `${localTime(info.last_seen)} (${relativeTime(info.last_seen)})` : "never"],
    ["First seen", localTime(info.first_seen)],
    ["Session", session],
    ["Relay", relayText(info.relay)],
    ["Owner", camera.owner || "nobody yet"],
  ]));
  if (withVideoForm) drawVideoForm(info.video || {});
}

function drawVideoForm(current) {
  const size = el("select", { id: "video-size" }, SIZES.map((value) => el("option", { value, text: value, selected: value === (current.size || "1280x720") })));
  const fps = el("input", { id: "video-fps", type: "number", min: 1, max: 25, value: current.fps || 15 });
  const quality = el("select", { id: "video-quality" }, [1, 2, 3, 4, 5].map((value) => el("option", { value, text: String(value), selected: value === (current.quality || 3) })));
  const send = el("button", { class: "primary", type: "submit", text: "Send to camera", disabled: !camera.online });
  const form = el("form", { id: "video-form" },
    el("div", { class: "row" },
      el("div", { class: "field" }, el("label", { for: "video-size", text: "Resolution" }), size),
      el("div", { class: "field" }, el("label", { for: "video-fps", text: "Frames per second" }), fps),
      el("div", { class: "field" }, el("label", { for: "video-quality", text: "Quality" }), quality),
      send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    send.disabled = true;
    try {
      await api(`api/cameras/${cameraId}/video`, { method: "PUT", body: { size: size.value, fps: Number(fps.value), quality: Number(quality.value) } });
      toast("The camera took the new settings");
    } catch (failure) {
      toast("Not changed: " + failure.message);
    } finally {
      send.disabled = !camera.online;
    }
  });
  parts.video.replaceChildren(el("h2", { text: "Video settings" }),
    el("p", { class: "muted", text: camera.online ? "Sent to the camera as modify-device." : "The camera must be online to change them." }),
    form);
}

// Absolute URLs at the announce address (what other programs on the LAN use), from the API.
const URL_LABELS = [
  ["webrtc", "WebRTC (WHEP)"], ["rtsp", "RTSP"], ["rtsp_by_name", "RTSP by name"],
  ["llhls", "LL-HLS"], ["hls", "HLS"], ["mjpeg", "MJPEG"], ["snapshot", "Snapshot"], ["flv", "FLV"],
];
const SNIPPET_TITLES = {
  go2rtc: "go2rtc (go2rtc.yaml)", frigate: "Frigate (config.yml)",
  home_assistant: "Home Assistant", blue_iris: "Blue Iris", vlc: "VLC",
};

function streamUrls() {
  const urls = camera.urls || {};
  return URL_LABELS.filter(([key]) => urls[key]).map(([key, label]) => [label, urls[key]]);
}

function drawUrls() {
  const rows = streamUrls().map(([label, url]) => {
    const input = el("input", { readonly: true, value: url, "aria-label": `${label} URL` });
    return el("div", { class: "url" }, el("span", { text: label }), input,
      el("button", { class: "small", text: "Copy", onclick: () => copyText(url) }));
  });
  const snippets = Object.entries(camera.snippets || {})
    .map(([key, text]) => [SNIPPET_TITLES[key] || key, text]);
  parts.urls.replaceChildren(el("h2", { text: "Stream URLs" }),
    el("div", { class: "urls" }, rows),
    el("p", { class: "muted" }, "Programs outside the trusted networks sign in with your login and an access token (",
      el("a", { href: "account", text: "create one" }), ")."),
    ...snippets.flatMap(([title, text]) => [
      el("div", { class: "snippet-head" }, el("strong", { text: title }),
        el("button", { class: "small", text: "Copy", "aria-label": `Copy the ${title} snippet`, onclick: () => copyText(text) })),
      el("pre", { class: "snippet", text })]));
}

// A motion event's picture (the event log stores one per motion start), opened full size.
function eventPicture(event) {
  if (!event.thumbnail) return null;
  const url = appUrl(event.thumbnail);
  return el("a", { href: url, target: "_blank", class: "event-picture" },
    el("img", { src: url, alt: `${event.kind} at ${localTime(event.time)}`, loading: "lazy" }));
}

async function drawEvents() {
  const events = await api(`api/events?camera_id=${cameraId}&limit=15`);
  const list = events.length
    ? el("ul", { class: "events" }, events.map((event) => el("li", { "data-event": event.id },
        el("span", { text: event.kind }), eventPicture(event),
        el("span", { class: "muted", text: localTime(event.time) }))))
    : el("p", { class: "muted", text: "No events yet." });
  parts.events.replaceChildren(el("h2", { text: "Recent events" }), list);
}

function playClip(clip) {
  parts.clip.replaceChildren(el("video", { src: appUrl(clip.url), controls: true, autoplay: true, muted: true, playsinline: true }),
    el("p", { class: "muted", text: `${localTime(clip.started)} · ${clip.reason} · ${clip.seconds} s` }));
}

// Clips being written are listed too (fragmented MP4 plays up to its newest fragment).
async function drawRecordings() {
  let clips;
  try {
    clips = await api(`api/cameras/${cameraId}/recordings`);
  } catch (failure) {
    if (failure.status !== 503) throw failure;
    parts.recordings.replaceChildren(el("h2", { text: "Recordings" }),
      el("p", { class: "muted", text: "Recording is not running on this server." }));
    return;
  }
  const rows = clips.slice(0, 20).map((clip) => el("li", { "data-clip": clip.name },
    el("span", { text: `${localTime(clip.started)} · ${clip.reason}${clip.recording ? " · recording" : ""}` }),
    el("span", { class: "muted", text: `${clip.seconds} s · ${Math.ceil(clip.bytes / 1024)} KiB` }),
    el("span", { class: "actions" },
      el("button", { class: "small play", text: "Play", onclick: () => playClip(clip) }),
      el("a", { class: "button small", href: appUrl(`${clip.url}?download=1`), download: "", text: "Download" }))));
  parts.recordings.replaceChildren(el("h2", { text: "Recordings" }), parts.clip,
    rows.length ? el("ul", { class: "events clips" }, rows)
      : el("p", { class: "muted", text: "No recordings yet: record this camera on motion or all the time (FAKECLOUD_RECORD_MODE, or its options)." }));
}

function drawDanger() {
  const forget = async () => {
    if (!confirm(`Forget ${cameraName(camera)}? Its events are deleted; if it logs in again it returns as a new camera.`)) return;
    try {
      await api(`api/cameras/${cameraId}`, { method: "DELETE" });
      location.assign("./");
    } catch (failure) {
      toast("Not forgotten: " + failure.message);
    }
  };
  parts.danger.replaceChildren(el("h2", { text: "Forget this camera" }),
    el("p", { class: "muted", text: "Removes the camera and its history from fakecloud." }),
    el("button", { class: "danger", id: "forget", onclick: forget, text: "Forget camera" }));
}

async function reload() {
  try {
    camera = await api(`api/cameras/${cameraId}`);
  } catch (failure) {
    if (failure.status === 404) {
      document.getElementById("main").replaceChildren(el("div", { class: "card empty" },
        el("h2", { text: "No such camera" }), el("p", {}, el("a", { href: "./", text: "Back to all cameras" }))));
      return false;
    }
    throw failure;
  }
  drawHead();
  showLive();
  // An offline camera has no picture to save: the button would download an error page.
  const shot = document.getElementById("snapshot");
  shot.disabled = !camera.online;
  shot.title = camera.online ? "Save the current picture" : "The camera is offline";
  await Promise.all([drawConnection(), drawEvents(), drawRecordings()]);
  drawUrls();
  return true;
}

export async function draw(main) {
  for (const name of ["head", "details", "video", "urls", "events", "recordings", "danger"]) parts[name] = el("section", { class: name === "head" ? "page-head" : "card", id: `camera-${name}` });
  parts.picture = el("div", { class: "picture", id: "live" });
  // Kept across redraws (a camera going on- or offline): a clip playing goes on playing.
  parts.clip = el("div", { class: "clip", id: "clip" });
  parts.mode = el("span", { class: "pill", id: "live-mode" });
  const bar = el("div", { class: "viewer-bar" }, parts.mode, el("span", { class: "spacer" }),
    el("button", { id: "snapshot", onclick: snapshot, text: "Snapshot" }));
  main.replaceChildren(parts.head, el("div", { class: "camera-layout" },
    el("div", { class: "stack" }, el("div", { class: "viewer" }, parts.picture, bar), parts.video, parts.urls),
    el("div", { class: "stack" }, parts.details, parts.events, parts.recordings, parts.danger)));
  // Listening first: a change between the first load and the stream's start is not missed.
  const source = listenForCameras((change) => { if (change.camera_id === cameraId) reload(); }, reload);
  if (!(await reload())) {
    source.close();
    return;
  }
  drawDanger();
  // The relay and last-seen time change while the page is open (the live view itself starts
  // a relay stream): the details are refreshed, quietly, every few seconds.
  const refresh = setInterval(() => drawConnection({ withVideoForm: false }).catch(() => {}), CONNECTION_REFRESH_MS);
  addEventListener("pagehide", () => { clearInterval(refresh); stopLive(); });
}
