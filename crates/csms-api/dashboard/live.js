// Live updates: Ström's event stream (GET /api/v1/events/stream, server-sent events) read with
// fetch and a streaming reader, because EventSource cannot send the Bearer header. A lost
// stream is resumed with Last-Event-ID, so no event is missed. A server without the stream
// (404) is polled instead: every 1.5 s the current view is told to refresh.

import { authHeaders } from "./api.js";

const POLL_MS = 1500;
const listeners = new Set();
/** The newest events, newest first, for the overview's feed. */
export const recent = [];
const RECENT_MAX = 50;

let controller = null;
let pollTimer = null;
let lastId = null;
let stateListener = () => {};

/** fn(event) for every event; kind "live.resync" asks for a full refresh (after a (re)connect
 * or a poll tick). Returns the unsubscribe function. */
export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(event) {
  for (const fn of [...listeners]) {
    try { fn(event); } catch (e) { console.error(e); }
  }
}

function setState(state, text) {
  stateListener(state, text);
}

/** One event block of text/event-stream (WHATWG HTML §9.2.6): its id, event and data lines. */
export function parseBlock(block) {
  let id = null;
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "id") id = value;
    else if (name === "event") kind = value;
    else if (name === "data") data.push(value);
  }
  return data.length ? { id, kind, data: data.join("\n") } : null;
}

async function readStream(signal) {
  const headers = { Accept: "text/event-stream", ...authHeaders() };
  if (lastId !== null) headers["Last-Event-ID"] = lastId;
  const response = await fetch("/api/v1/events/stream", { headers, signal, cache: "no-store", credentials: "omit" });
  if (response.status === 404) return "absent";
  if (response.status === 401) return "refused";
  if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
  setState("live", "Live");
  emit({ kind: "live.resync" });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return "closed";
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = parseBlock(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (!block) continue;
      if (block.id !== null) lastId = block.id;
      let event;
      try { event = JSON.parse(block.data); } catch { continue; }
      recent.unshift(event);
      recent.length = Math.min(recent.length, RECENT_MAX);
      emit(event);
    }
  }
}

function poll() {
  setState("polling", "Refreshing every 1.5 s (no event stream)");
  emit({ kind: "live.resync" });
  pollTimer = setInterval(() => emit({ kind: "live.resync" }), POLL_MS);
}

/** Starts following the server; `onState(state, text)` hears "connecting", "live", "polling";
 * `onRefused()` is called when the token is no longer accepted (expired or revoked). */
export function start(onState, onRefused = () => {}) {
  stop();
  stateListener = onState || (() => {});
  controller = new AbortController();
  const { signal } = controller;
  (async () => {
    let delay = 500;
    while (!signal.aborted) {
      setState("connecting", "Connecting…");
      const began = Date.now();
      try {
        const outcome = await readStream(signal);
        if (outcome === "absent") { poll(); return; }
        if (outcome === "refused") { onRefused(); return; }
        // A stream that lasted is reopened soon; one closed at once backs off like a failure.
        if (Date.now() - began > 10000) delay = 500;
      } catch (e) {
        if (signal.aborted) return;
        setState("connecting", "Reconnecting…");
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  })();
}

export function stop() {
  if (controller) controller.abort();
  controller = null;
  clearInterval(pollTimer);
  pollTimer = null;
  lastId = null;
  recent.length = 0;
}
