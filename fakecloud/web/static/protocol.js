// /protocol: what fakecloud recorded (the capture log, redacted, decoded where it understood
// the traffic), the vendor names devices asked for, and a redacted export to share.
import { api, el, localTime } from "./lib.js";

const DETAIL_WIDTH = 160;

// What a record says: its decoded fields, else a preview of its raw bytes, else its other fields.
function summary(record) {
  if (record.decoded !== undefined && record.decoded !== null) {
    return typeof record.decoded === "string" ? record.decoded : JSON.stringify(record.decoded);
  }
  if (typeof record.hex === "string") {
    const bytes = record.hex.match(/../g) || [];
    return bytes.slice(0, 48).map((pair) => {
      const code = parseInt(pair, 16);
      return code >= 0x20 && code < 0x7f ? String.fromCharCode(code) : ".";
    }).join("") + (bytes.length > 48 ? ` (+${bytes.length - 48} bytes)` : "");
  }
  const { time, kind, peer, connection, ...rest } = record;
  return JSON.stringify(rest);
}

function captureRow(record) {
  const text = summary(record);
  return el("li", { class: "capture", "data-kind": record.kind },
    el("div", { class: "capture-head" }, el("span", { class: "pill", text: record.kind }),
      el("span", { class: "muted", text: `${localTime(record.time)} · ${record.peer || "-"}` })),
    el("code", { class: "capture-text", title: text, text: text.length > DETAIL_WIDTH ? text.slice(0, DETAIL_WIDTH) + "…" : text }));
}

function capturesCard(captures) {
  const list = captures.records.length
    ? el("ul", { class: "captures", id: "captures" }, captures.records.slice().reverse().map(captureRow))
    : el("p", { class: "muted", id: "captures", text: "Nothing captured yet: fakecloud records traffic it does not understand (and camera setup answers) here." });
  return el("section", { class: "card" }, el("div", { class: "page-head" },
    el("h2", { text: "Recent captures" }),
    el("a", { class: "button", id: "export", href: "api/captures/export", download: "fakecloud-capture-redacted.jsonl", text: "Export redacted capture" })),
  el("p", { class: "muted", text: "Newest first. Passwords and tokens are never recorded; MACs and keys are replaced by names like MAC-1 here and in the export. Review an export before you share it." }),
  list);
}

function hostnamesCard(dns) {
  const names = dns ? dns.discovered : [];
  return el("section", { class: "card" }, el("h2", { text: "Discovered hostnames" }),
    names.length
      ? el("ul", { class: "events", id: "hostnames" }, names.map((name) => el("li", { class: "mono", text: name })))
      : el("p", { class: "muted", id: "hostnames", text: dns
        ? "No device has asked the DNS shim for a vendor name outside the catalogue."
        : "The DNS shim is not running, so no names are seen here." }));
}

export async function draw(main) {
  const [captures, status] = await Promise.all([api("api/captures?limit=100"), api("api/status")]);
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: "Protocol" }),
      el("span", { class: "sub", text: `What the cameras said · ${captures.files.length} capture file(s)` }))),
    el("div", { class: "stack" }, capturesCard(captures), hostnamesCard(status.parts.dns)));
}
