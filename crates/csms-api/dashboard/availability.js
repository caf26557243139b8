// Availability reports: uptime per station and connector over a period, as the server computes
// it (GET /api/v1/availability; README "Availability"): the time each was known and could
// charge, what kept it from charging (offline, faulted, an Unavailable status), faults by
// category and the mean time to repair. The CSV is the server's own.

import { api, enc } from "./api.js";
import { h, fill, redraw, table, time, fmtDuration, field, place, toast } from "./dom.js";

const DAY = 86400000;

/** A date input's value (local day) for an instant. */
function day(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Uptime in words and figures: "99.861 %", or "not known" for no known time. */
function uptime(percent) {
  return percent === null || percent === undefined ? "not known" : `${percent.toFixed(3)} %`;
}

function figures(f) {
  return [
    uptime(f.uptime_percent),
    fmtDuration(f.known_s),
    fmtDuration(f.unavailable_s),
    fmtDuration(f.offline_s),
    fmtDuration(f.faulted_s),
    fmtDuration(f.unavailable_status_s),
    String(f.faults ?? 0),
    f.mttr_s === null || f.mttr_s === undefined ? "—" : fmtDuration(f.mttr_s),
  ];
}

const FIGURES = ["Uptime", "Known", "Unavailable", "Offline", "Faulted", "Unavailable status", "Faults", "Mean time to repair"];

export function availabilityReports(container, query) {
  const now = Date.now();
  const from = h("input", { type: "date", value: query.get("from") || day(now - 30 * DAY) });
  const to = h("input", { type: "date", value: query.get("to") || day(now + DAY) });
  const station = h("input", { type: "search", value: query.get("station") || "", placeholder: "all stations" });
  const totalsBox = h("div", { id: "availability-totals" });
  const stationsBox = h("div", { id: "availability-stations" });
  const connectorsBox = h("div", { id: "availability-connectors" });
  const period = h("p", { class: "muted" });

  /** The query for the server: midnight to midnight in the browser's time zone. */
  function params(format) {
    const q = new URLSearchParams();
    q.set("from", new Date(`${from.value}T00:00:00`).toISOString());
    q.set("to", new Date(`${to.value}T00:00:00`).toISOString());
    if (station.value.trim()) q.set("station_id", station.value.trim());
    if (format) q.set("format", format);
    return q;
  }

  async function download() {
    try {
      const csv = await api(`/availability?${params("csv")}`);
      const link = h("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: `availability-${from.value}-${to.value}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (e) {
      toast(`The CSV could not be made: ${e.message}`, true);
    }
  }

  const show = h("button", { type: "submit" }, "Show");
  const csv = h("button", { type: "button", onclick: download }, "Download CSV");
  fill(container,
    h("h1", {}, "Availability reports"),
    h("p", {}, "Uptime counts the time a connector was known and could charge: not while its station was offline, ",
      "while a fault that stops charging was open, nor while it reported Unavailable or Faulted."),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); refresh(); } },
      field("From", from), field("To (not included)", to), field("Station", station), show, csv),
    period,
    h("section", { "aria-labelledby": "av-total-h" }, h("h2", { id: "av-total-h" }, "Network"), totalsBox),
    h("section", { "aria-labelledby": "av-st-h" }, h("h2", { id: "av-st-h" }, "Stations"), stationsBox),
    h("section", { "aria-labelledby": "av-c-h" }, h("h2", { id: "av-c-h" }, "Connectors"), connectorsBox));

  async function refresh() {
    const report = await api(`/availability?${params()}`);
    fill(period, "From ", time(report.from), " to ", time(report.to), ".");
    redraw(totalsBox, report.totals, () => table("The whole network", ["Stations", ...FIGURES],
      [[String(report.totals.stations ?? report.stations.length), ...figures(report.totals)]]));
    const stations = report.stations.map((s) => [h("a", { href: `#/stations/${enc(s.station_id)}` }, s.station_id), ...figures(s)]);
    redraw(stationsBox, report.stations, () => table("Per station", ["Station", ...FIGURES], stations, "No station in this period."));
    const connectors = report.stations.flatMap((s) => (s.connectors || []).map((c) => [
      h("a", { href: `#/stations/${enc(s.station_id)}` }, s.station_id), place(c.evse_id, c.connector_id), ...figures(c)]));
    redraw(connectorsBox, report.stations.map((s) => s.connectors), () => table("Per connector", ["Station", "Where", ...FIGURES], connectors, "No connector known in this period."));
  }

  return {
    // Figures change with faults and statuses; a report is redrawn only then.
    concerns: (e) => e.kind.startsWith("fault.") || e.kind === "connector.status" || e.kind.startsWith("station."),
    refresh,
  };
}
