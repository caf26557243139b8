// A station's message log as a trace people can read: time, direction, the action (for an
// answer, the action of the CALL it answers, found by its message id), and the payload.

import { h, time } from "./dom.js";

const KIND = { 2: "CALL", 3: "CALLRESULT", 4: "CALLERROR" };

/** Its message type, id, action and payload from an OCPP-J frame (OCPP-J §4). */
export function describeFrame(frame) {
  if (!Array.isArray(frame)) return { kind: "unreadable", id: null, action: null, payload: frame };
  const [type, id] = frame;
  if (type === 2) return { kind: KIND[2], id, action: frame[2], payload: frame[3] };
  if (type === 3) return { kind: KIND[3], id, action: null, payload: frame[2] };
  if (type === 4) return { kind: KIND[4], id, action: null, payload: { code: frame[2], description: frame[3], details: frame[4] } };
  return { kind: "unknown", id, action: null, payload: frame };
}

/** A short reading of a payload: the status it carries, when it carries one. */
function gist(payload) {
  if (!payload || typeof payload !== "object") return "";
  const status = payload.status ?? payload.idTagInfo?.status ?? payload.idTokenInfo?.status ?? payload.registrationStatus;
  if (typeof status === "string") return status;
  if (payload.code) return payload.code;
  if (payload.errorCode && payload.errorCode !== "NoError") return `${payload.status || ""} ${payload.errorCode}`.trim();
  if (payload.connectorStatus) return payload.connectorStatus;
  if (payload.eventType) return payload.eventType;
  return "";
}

/** The trace; `openIds` are the log ids whose details stay open (as the reader left them). */
export function trace(messages, openIds = new Set()) {
  if (!messages.length) return h("p", { class: "empty" }, "No messages logged yet.");
  const described = messages.map((m) => ({ ...m, d: describeFrame(m.frame) }));
  const actions = new Map();
  for (const m of described) if (m.d.kind === "CALL") actions.set(m.d.id, m.d.action);
  return h("ol", { class: "trace" }, described.map((m) => {
    const inbound = m.direction === "in" || m.direction === "received";
    const action = m.d.action || actions.get(m.d.id) || "(earlier call)";
    const arrow = inbound ? "station → Ström" : "Ström → station";
    return h("li", { class: `trace-item ${inbound ? "in" : "out"} ${m.d.kind.toLowerCase()}` },
      h("details", { open: openIds.has(String(m.id)), dataset: { id: String(m.id) } },
        h("summary", {},
          time(m.at), " ",
          h("span", { class: "dir" }, arrow), " ",
          h("strong", {}, action), " ",
          h("span", { class: "kind" }, m.d.kind), " ",
          h("span", { class: "gist" }, gist(m.d.payload))),
        h("pre", {}, JSON.stringify(m.d.payload, null, 2)),
        h("p", { class: "note" }, `message id ${m.d.id ?? "—"}`)));
  }));
}
