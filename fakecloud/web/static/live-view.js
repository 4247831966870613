// The camera page's live view: WebRTC (WHEP) first; Safari's own HLS (the low-latency
// playlist), else MJPEG, when WebRTC cannot connect. Each mode's start() resolves once a
// picture shows, or throws.
import { api, el } from "./lib.js";

const CONNECT_SECONDS = 8;

function within(seconds, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not start within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function playing(video) {
  return new Promise((resolve, reject) => {
    video.addEventListener("playing", resolve, { once: true });
    video.addEventListener("error", () => reject(new Error("the video cannot be played")), { once: true });
  });
}

// No trickle ICE (docs/webrtc.md): the offer goes once its candidates are gathered.
function gathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    peer.addEventListener("icegatheringstatechange", () => {
      if (peer.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 2000); // enough candidates by then on a LAN
  });
}

async function webrtc(camera, frame) {
  const peer = new RTCPeerConnection();
  let location = null;
  const stop = () => {
    peer.close();
    if (location) api(location, { method: "DELETE", keepalive: true }).catch(() => {});
  };
  try {
    const video = el("video", { muted: true, autoplay: true, playsinline: true, "data-live": "webrtc" });
    video.muted = true;
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.addEventListener("track", (event) => {
      video.srcObject = event.streams[0] || new MediaStream([event.track]);
    });
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer);
    const reply = await api(`api/cameras/${camera.id}/webrtc`, {
      method: "POST", raw: true, headers: { "Content-Type": "application/sdp" },
      text: peer.localDescription.sdp,
    });
    location = reply.headers.get("Location");
    await peer.setRemoteDescription({ type: "answer", sdp: await reply.text() });
    frame.replaceChildren(video);
    await within(CONNECT_SECONDS, playing(video), "WebRTC");
    return { mode: "WebRTC", stop };
  } catch (failure) {
    stop();
    throw failure;
  }
}

// Safari plays HLS itself, LL-HLS included: it gets the low-latency playlist (under a second
// behind in hls.js, tests/web/test_browser_llhls.py; Safari itself is not tested here). Chromium
// 156 claims native HLS too (canPlayType "maybe") but did not start fakecloud's playlist in
// 16 s in the browser test, so Chromium-based browsers (the ones with navigator.userAgentData)
// go straight on to MJPEG.
async function hls(camera, frame) {
  const video = el("video", { muted: true, autoplay: true, playsinline: true, "data-live": "hls" });
  video.muted = true;
  if (!video.canPlayType("application/vnd.apple.mpegurl") || navigator.userAgentData) {
    throw new Error("no native HLS");
  }
  video.src = camera.paths.llhls;
  frame.replaceChildren(video);
  await within(CONNECT_SECONDS * 2, playing(video), "LL-HLS");
  return { mode: "LL-HLS", stop: () => video.removeAttribute("src") };
}

async function mjpeg(camera, frame) {
  const picture = el("img", { alt: "Live view", "data-live": "mjpeg" });
  const shown = new Promise((resolve, reject) => {
    picture.onload = resolve;
    picture.onerror = () => reject(new Error("the camera sends no picture"));
  });
  picture.src = `${camera.paths.mjpeg}?t=${Date.now()}`;
  frame.replaceChildren(picture);
  await within(CONNECT_SECONDS, shown, "MJPEG");
  return { mode: "MJPEG", stop: () => picture.removeAttribute("src") };
}

// Start the first mode that works; the returned handle's stop() ends it.
export async function startLiveView(camera, frame) {
  const problems = [];
  for (const mode of [webrtc, hls, mjpeg]) {
    try {
      return await mode(camera, frame);
    } catch (failure) {
      problems.push(failure.message);
    }
  }
  throw new Error(problems.join("; "));
}
