// Building the page without a framework: one element helper, the formats every view shares
// (times, durations, energy), and the status badge that says its status in words as well as
// in colour.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      element.textContent = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** An HTML element: h("a", {href: "#/"}, "Overview"). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

const pad = (n) => String(n).padStart(2, "0");

/** A timestamp in the browser's time zone, to the second: 2026-12-07 17:04:05. */
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A <time> element that shows fmtTime and carries the instant. */
export function time(iso) {
  return iso ? h("time", { datetime: iso }, fmtTime(iso)) : "—";
}

/** Seconds as "1 h 02 min", "4 min 05 s", "12 s". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${s} s`;
}

/** Seconds from `fromIso` to `toIso` (or now). */
export function secondsBetween(fromIso, toIso) {
  if (!fromIso) return null;
  const end = toIso ? new Date(toIso).getTime() : Date.now();
  return (end - new Date(fromIso).getTime()) / 1000;
}

/** Watt-hours as kWh with three decimals (one watt-hour), the unit people bill in. */
export function fmtKwh(wh) {
  if (wh === null || wh === undefined) return "—";
  return `${(wh / 1000).toFixed(3)} kWh`;
}

export function fmtKw(w) {
  if (w === null || w === undefined) return "—";
  return `${(w / 1000).toFixed(2)} kW`;
}

/** How a status looks: a word class for the colour; the text is always shown too. */
const TONES = {
  Available: "ok", Accepted: "ok", Connected: "ok", Operative: "ok", Cleared: "ok",
  Charging: "busy", Occupied: "busy", Preparing: "busy", SuspendedEV: "busy", SuspendedEVSE: "busy",
  Finishing: "busy", Reserved: "busy", Active: "busy", Pending: "warn",
  Faulted: "bad", Open: "bad", Rejected: "bad", Blocked: "bad", Expired: "bad", Invalid: "bad",
  Unavailable: "off", Offline: "off", Inoperative: "off", Ended: "off",
};

/** A status in words, with a shape and colour for the eye: "● Faulted". */
export function badge(text, tone) {
  const word = text ?? "Unknown";
  const kind = tone || TONES[word] || "off";
  const marks = { ok: "●", busy: "◆", warn: "▲", bad: "■", off: "○" };
  return h("span", { class: `badge ${kind}` }, h("span", { "aria-hidden": "true" }, marks[kind] + " "), word);
}

/** A table with a caption and column headers; `rows` are arrays of cells (nodes or text). */
export function table(caption, headers, rows, empty = "Nothing to show.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  // A wide table scrolls in its own box rather than widening the page.
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell ?? "—")))))));
}

/** A definition list from [term, value] pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));
}

const drawn = new WeakMap();

/**
 * Redraws `container` with `build()` only when `data` differs from what it was last drawn
 * from: a refresh that changes nothing keeps the focus, the open details and the screen
 * reader's place.
 */
export function redraw(container, data, build) {
  const key = JSON.stringify(data);
  if (drawn.get(container) === key) return;
  drawn.set(container, key);
  fill(container, build());
}

/** Replaces a container's content. */
export function fill(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

/** A labelled form control: label + control, with an id tying them. */
let nextId = 0;
export function field(label, control) {
  const id = control.id || `f${++nextId}`;
  control.id = id;
  return h("span", { class: "field" }, h("label", { for: id }, label), control);
}

/** A short message for everyone, screen readers included (the page's live status region). */
export function toast(message, isError = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.toggle("error", isError);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.textContent = ""; }, 8000);
}

/** Where something is, as text: "EVSE 1 / connector 2", "connector 1", "EVSE 1", "station". */
export function place(evseId, connectorId) {
  const parts = [];
  if (evseId) parts.push(`EVSE ${evseId}`);
  // Connector 0 is the whole station (OCPP 1.6 §4.9).
  if (connectorId !== null && connectorId !== undefined && connectorId !== 0) parts.push(`connector ${connectorId}`);
  return parts.length ? parts.join(" / ") : "station";
}
