// The network at a glance: stations by connection and connector status, open faults by
// category, the energy of today's sessions, and the live feed of events.

import { api, allItems } from "./api.js";
import { h, fill, redraw, badge, fmtKwh, time, place } from "./dom.js";
import * as live from "./live.js";

function count(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) || 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

/** A titled list of counts; `tone` colours the labels that are no status (fault categories). */
function tally(title, pairs, href, tone) {
  return h("section", { class: "card", "aria-labelledby": `${title}-h` },
    h("h2", { id: `${title}-h` }, title),
    pairs.length
      ? h("ul", { class: "tally" }, pairs.map(([label, n]) =>
        h("li", {}, href ? h("a", { href: href(label) }, badge(label, tone)) : badge(label, tone), h("span", { class: "n" }, String(n)))))
      : h("p", { class: "empty" }, "None."));
}

/** One event as a line of the feed: when, what, where. */
function feedLine(e) {
  const d = e.data || {};
  const where = e.station_id ? h("a", { href: `#/stations/${encodeURIComponent(e.station_id)}` }, e.station_id) : "";
  const at = place(d.evse_id, d.connector_id);
  const what = {
    "station.connected": () => `connected (${d.protocol || "?"})`,
    "station.disconnected": () => "disconnected",
    "station.booted": () => `booted: ${d.vendor || ""} ${d.model || ""}, ${d.status || ""}`,
    "connector.status": () => `${at} is ${d.status}`,
    "fault.opened": () => `fault opened at ${at}: ${d.code} (${d.category}, ${d.severity})`,
    "fault.cleared": () => `fault cleared at ${at}: ${d.code}`,
    "transaction.started": () => `transaction ${d.transaction_id} started at ${at}`,
    "transaction.updated": () => `transaction ${d.transaction_id} updated`,
    "transaction.ended": () => `transaction ${d.transaction_id} ended, ${fmtKwh(d.energy_wh)}${d.reason ? `, ${d.reason}` : ""}`,
    "meter.sample": () => `meter sample at ${at}${d.energy_wh !== undefined ? `: ${fmtKwh(d.energy_wh)}` : ""}`,
    "command.sent": () => `command ${d.action} sent`,
    "command.answered": () => `command ${d.action}: ${d.status}`,
    "security.event": () => `security event ${d.type}`,
  }[e.kind];
  return h("li", { class: `feed-${(e.kind || "").split(".")[0]}` }, time(e.at), " ", where, " ", what ? what() : e.kind);
}

export function overview(container) {
  const stations = h("div", { class: "cards" });
  const faults = h("div");
  const energy = h("div");
  const feed = h("ol", { class: "feed", "aria-live": "polite", "aria-relevant": "additions", id: "live-feed" });
  const feedNote = h("p", { class: "note" });
  fill(container,
    h("h1", {}, "Network overview"),
    stations,
    h("div", { class: "cards" }, faults, energy),
    h("section", { class: "card wide", "aria-labelledby": "feed-h" },
      h("h2", { id: "feed-h" }, "Live feed"), feedNote, feed));

  // New events are added at the top; those shown stay (the list is aria-live: only what is new
  // is read out).
  const shownEvents = new Set();
  function drawFeed() {
    for (const event of [...live.recent].reverse()) {
      const key = event.id ?? JSON.stringify(event);
      if (shownEvents.has(key)) continue;
      shownEvents.add(key);
      feed.prepend(feedLine(event));
    }
    while (feed.childElementCount > 30) feed.lastElementChild.remove();
    const state = document.getElementById("live-state").dataset.state;
    feedNote.textContent = state === "polling"
      ? "This server has no event stream: the pages refresh every 1.5 s, and the feed stays empty."
      : live.recent.length ? "" : "Events appear here as they happen.";
  }

  return {
    // The feed takes every event at once; the figures are fetched again for those that change them.
    concerns(event) {
      drawFeed();
      return event.kind !== "meter.sample" && !event.kind.startsWith("command.");
    },
    async refresh() {
      const today = new Date();
      today.setHours(0, 0, 0, 0);
      const [list, open, sessions] = await Promise.all([
        allItems("/stations"),
        allItems("/faults?open=true"),
        allItems(`/transactions?from=${encodeURIComponent(today.toISOString())}`),
      ]);
      const connectors = list.flatMap((s) => s.connectors.filter((c) => c.connector_id !== 0));
      redraw(stations, [list.map((s) => [s.connected, s.registration_status]), connectors.map((c) => c.status)], () => [
        tally("Stations", count(list.map((s) => (s.connected ? "Connected" : "Offline"))), (l) => `#/stations?connected=${l === "Connected"}`),
        tally("Connectors", count(connectors.map((c) => c.status || "Unknown"))),
        tally("Registration", count(list.map((s) => s.registration_status || "Unknown")))]);
      redraw(faults, open.map((f) => f.category), () => tally("Open faults by category", count(open.map((f) => f.category)), (c) => `#/faults?category=${encodeURIComponent(c)}`, "bad"));
      const wh = sessions.reduce((sum, t) => sum + (t.energy_wh ?? t.energy_so_far_wh ?? 0), 0);
      const active = sessions.filter((t) => t.active).length;
      redraw(energy, [wh, sessions.length, active], () => h("section", { class: "card", "aria-labelledby": "energy-h" },
        h("h2", { id: "energy-h" }, "Energy today"),
        h("p", { class: "big", id: "energy-today", dataset: { wh: String(wh) } }, fmtKwh(wh)),
        h("p", { class: "note" }, `${sessions.length} sessions started since midnight (this browser's time), ${active} still charging.`),
        h("p", {}, h("a", { href: "#/transactions" }, "All transactions"))));
      drawFeed();
    },
  };
}

