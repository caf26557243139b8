// The fault board: open faults first (oldest open at the top: the longest waiting), then the
// history of cleared ones; category and severity in words, duration so far or in all.

import { api, allItems, enc } from "./api.js";
import { h, fill, redraw, table, badge, time, fmtDuration, secondsBetween, field, place, facts } from "./dom.js";

/** Ström's fault categories (csms_core::fault_kinds::FaultCategory). */
const CATEGORIES = ["thermal", "power_loss", "communication", "electrical_protection", "connector", "meter", "internal", "other"];

/** Severity in words and colour: Error (the connector cannot charge), Warning, Info. */
export function severityBadge(severity) {
  const tone = { Error: "bad", Warning: "warn", Info: "off" }[severity] || "warn";
  return badge(severity || "Unknown", tone);
}

function faultRow(f) {
  return [
    h("a", { href: `#/faults?fault=${f.id}`, "aria-label": `Fault ${f.id}` }, `#${f.id}`),
    f.open ? badge("Open") : badge("Cleared"),
    h("a", { href: `#/stations/${enc(f.station_id)}` }, f.station_id),
    place(f.evse_id, f.connector_id),
    h("span", { class: "code" }, f.code),
    f.category,
    severityBadge(f.severity),
    f.component,
    time(f.started_at),
    f.open ? `${fmtDuration(secondsBetween(f.started_at))} so far` : fmtDuration(secondsBetween(f.started_at, f.cleared_at)),
    f.source === "strom" ? "Ström" : "station",
  ];
}

const HEADERS = ["Fault", "State", "Station", "Where", "Code", "Category", "Severity", "Component", "Started", "Duration", "Reported by"];

export function faultBoard(container, query) {
  const category = h("select", {}, h("option", { value: "" }, "any"), CATEGORIES.map((c) => h("option", { value: c }, c)));
  category.value = query.get("category") || "";
  const station = h("input", { type: "search", value: query.get("station") || "", placeholder: "station id" });
  const severity = h("select", {}, h("option", { value: "" }, "any"), ["Error", "Warning", "Info"].map((s) => h("option", { value: s }, s)));
  const detail = h("div");
  const openBox = h("div", { id: "open-faults" });
  const historyBox = h("div", { id: "fault-history" });
  let open = [];
  let history = [];

  function draw() {
    const keep = (f) => (!station.value.trim() || f.station_id.toLowerCase().includes(station.value.trim().toLowerCase()))
      && (!severity.value || f.severity === severity.value);
    const shownOpen = open.filter(keep).sort((a, b) => a.started_at.localeCompare(b.started_at));
    const shownHistory = history.filter(keep);
    // Open faults' durations grow: they are drawn again at least every 15 s.
    redraw(openBox, [shownOpen, Math.floor(Date.now() / 15000)],
      () => table(`Open faults (${shownOpen.length})`, HEADERS, shownOpen.map(faultRow), "No open fault."));
    redraw(historyBox, shownHistory, () => table("Cleared faults, newest first", HEADERS, shownHistory.map(faultRow), "No cleared fault."));
  }
  for (const control of [station, severity]) control.addEventListener("input", draw);
  category.addEventListener("input", () => {
    const q = new URLSearchParams();
    if (category.value) q.set("category", category.value);
    history.length = 0;
    location.hash = `#/faults${q.size ? `?${q}` : ""}`;
  });

  fill(container,
    h("h1", {}, "Fault board"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      field("Category", category), field("Severity", severity), field("Station", station)),
    detail,
    h("section", { "aria-labelledby": "open-h" }, h("h2", { id: "open-h" }, "Open"), openBox),
    h("section", { "aria-labelledby": "hist-h" }, h("h2", { id: "hist-h" }, "History"), historyBox));

  const chosen = query.get("fault");
  return {
    concerns: (e) => e.kind.startsWith("fault."),
    async refresh() {
      const filter = category.value ? `&category=${enc(category.value)}` : "";
      const [openItems, cleared, one] = await Promise.all([
        allItems(`/faults?open=true${filter}`),
        api(`/faults?open=false&limit=200${filter}`),
        chosen ? api(`/faults/${enc(chosen)}`) : null,
      ]);
      open = openItems;
      history = cleared.items;
      if (one) {
        redraw(detail, one, () => h("section", { class: "card wide", "aria-labelledby": "fd-h" },
          h("h2", { id: "fd-h" }, `Fault #${one.id}: ${one.code}`),
          facts([
            ["State", one.open ? badge("Open") : badge("Cleared")],
            ["Station", h("a", { href: `#/stations/${enc(one.station_id)}` }, one.station_id)],
            ["Where", place(one.evse_id, one.connector_id)],
            ["Component / code", `${one.component} / ${one.code}`],
            ["Category", one.category], ["Severity", severityBadge(one.severity)],
            ["Started", time(one.started_at)], ["Cleared", time(one.cleared_at)],
            ["Vendor detail", [one.vendor?.id, one.vendor?.code, one.vendor?.info].filter(Boolean).join(" · ") || "—"],
            ["As the station said it", h("code", {}, JSON.stringify(one.raw))],
          ])));
      }
      draw();
    },
  };
}
