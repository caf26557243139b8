// Transactions: the list (newest first, by station and state), and one transaction with its
// figures and charts of power, voltage, current and energy over time from its meter values.

import { api, allItems, enc, canCommand } from "./api.js";
import { h, fill, redraw, table, badge, time, fmtKwh, fmtKw, fmtDuration, facts, field, place, toast } from "./dom.js";
import { lineChart } from "./chart.js";

function stateBadge(t) {
  return t.active ? badge("Charging", "busy") : badge(t.stopped_at ? "Ended" : "Not started", "off");
}

export function transactionList(container, query) {
  const station = h("input", { type: "search", value: query.get("station") || "", placeholder: "exact station id" });
  const state = h("select", {}, h("option", { value: "" }, "any"), h("option", { value: "true" }, "active"), h("option", { value: "false" }, "ended"));
  state.value = query.get("active") || "";
  const result = h("div", { id: "transactions" });
  const apply = () => {
    const q = new URLSearchParams();
    if (station.value.trim()) q.set("station", station.value.trim());
    if (state.value) q.set("active", state.value);
    location.hash = `#/transactions${q.size ? `?${q}` : ""}`;
  };
  fill(container,
    h("h1", {}, "Transactions"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } },
      field("Station", station), field("State", state), h("button", { type: "submit" }, "Show")),
    result);
  state.addEventListener("change", apply);
  return {
    concerns: (e) => e.kind.startsWith("transaction."),
    async refresh() {
      const q = new URLSearchParams({ limit: "200" });
      if (query.get("station")) q.set("station_id", query.get("station"));
      if (query.get("active")) q.set("active", query.get("active"));
      const page = await api(`/transactions?${q}`);
      redraw(result, page, () => [table("Transactions, newest first", ["Transaction", "State", "Station", "Where", "Id token", "Started", "Ended", "Duration", "Energy", "Stop reason"],
        page.items.map((t) => [
          h("a", { href: `#/transactions/${t.id}` }, `#${t.id}`), stateBadge(t),
          h("a", { href: `#/stations/${enc(t.station_id)}` }, t.station_id), place(t.evse_id, t.connector_id), t.id_token,
          time(t.started_at), time(t.stopped_at), fmtDuration(t.duration_s),
          t.active ? `${fmtKwh(t.energy_so_far_wh)} so far` : fmtKwh(t.energy_wh), t.stop_reason,
        ]), "No transaction matches."),
      page.next_cursor ? h("p", { class: "note" }, "Showing the newest 200; narrow by station to see older ones.") : null]);
    },
  };
}

/** Readings of one measurand as series by phase, values divided by `scale`. */
function byPhase(readings, measurand, unit, scale) {
  const groups = new Map();
  for (const r of readings) {
    if (r.measurand !== measurand || r.normalised_unit !== unit || r.value === null) continue;
    const key = r.phase || "total";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push([new Date(r.timestamp).getTime(), r.value / scale]);
  }
  // The whole device first, then the phases in order.
  return [...groups.entries()].sort(([a], [b]) => (a === "total" ? -1 : b === "total" ? 1 : a.localeCompare(b)))
    .map(([label, points]) => ({ label, points }));
}

/**
 * The energy delivered over time, in Wh: each import register reading (whole device) less the
 * meter start, and, once the session ended, its meter stop less its meter start, which is the
 * stored energy_wh (csms_core::transactions::energy).
 */
export function energyPoints(t, readings) {
  const registers = readings
    .filter((r) => r.measurand === "Energy.Active.Import.Register" && !r.phase && r.normalised_unit === "Wh" && r.value !== null)
    .map((r) => [new Date(r.timestamp).getTime(), r.value])
    .sort((a, b) => a[0] - b[0]);
  const start = t.meter_start_wh ?? (registers.length ? registers[0][1] : null);
  if (start === null) return [];
  const stop = t.stopped_at ? new Date(t.stopped_at).getTime() : Infinity;
  const points = registers.filter(([at]) => at < stop).map(([at, v]) => [at, v - start]);
  if (t.started_at && t.meter_start_wh !== null && t.meter_start_wh !== undefined) {
    const begin = new Date(t.started_at).getTime();
    if (!points.length || points[0][0] > begin) points.unshift([begin, 0]);
  }
  if (t.stopped_at && t.meter_stop_wh !== null && t.meter_stop_wh !== undefined) points.push([stop, t.meter_stop_wh - start]);
  return points;
}

export function transactionDetail(container, _query, id) {
  let drawnFrom = null;
  /** Whether the charts must be drawn again: the transaction or its readings changed. */
  const redrawn = (t, readings) => {
    const key = JSON.stringify([t, readings.length]);
    if (key === drawnFrom) return false;
    drawnFrom = key;
    return true;
  };
  const summary = h("div");
  const energyBox = h("div");
  const charts = h("div", { class: "charts" });
  const actions = h("div");
  fill(container,
    h("p", { class: "crumbs" }, h("a", { href: "#/transactions" }, "Transactions"), " › ", `#${id}`),
    h("h1", {}, `Transaction #${id}`),
    summary, actions,
    h("section", { "aria-labelledby": "energy-h" }, h("h2", { id: "energy-h" }, "Energy"), energyBox),
    h("section", { "aria-labelledby": "charts-h" }, h("h2", { id: "charts-h" }, "Power, voltage and current"), charts));

  return {
    concerns: (e) => String(e.data?.transaction_id) === String(id),
    async refresh() {
      const [t, readings] = await Promise.all([api(`/transactions/${enc(id)}`), allItems(`/transactions/${enc(id)}/meter-values`, 20000)]);
      redraw(summary, t, () => facts([
        ["State", stateBadge(t)],
        ["Station", h("a", { href: `#/stations/${enc(t.station_id)}` }, t.station_id)],
        ["Where", place(t.evse_id, t.connector_id)],
        ["Id token", [t.id_token || "—", t.start_auth_status ? ` (${t.start_auth_status})` : ""]],
        ["Started", time(t.started_at)], ["Ended", time(t.stopped_at)],
        ["Duration", fmtDuration(t.duration_s)], ["Charging / idle", `${fmtDuration(t.charging_s)} / ${fmtDuration(t.idle_s)}`],
        ["Meter start / stop", `${t.meter_start_wh ?? "—"} Wh / ${t.meter_stop_wh ?? "—"} Wh`],
        ["Power now", t.active ? fmtKw(t.power_w) : "—"],
        ["Stop reason", t.stop_reason], ["Flags", t.flags.length ? t.flags.join(", ") : "none"],
      ]));
      if (t.active && canCommand() && !actions.childElementCount) {
        fill(actions, h("button", { type: "button", class: "command", onclick: async () => {
          try {
            const answer = await api(`/stations/${enc(t.station_id)}/remote-stop`, { method: "POST", body: { transaction_id: t.id } });
            toast(`Remote stop: the station answered ${answer?.status}`);
          } catch (e) { toast(`Remote stop: ${e.message}`, true); }
        } }, "Stop this session"));
      } else if (!t.active) {
        fill(actions);
      }
      if (!redrawn(t, readings)) return;
      const energy = energyPoints(t, readings);
      const last = energy.length ? energy[energy.length - 1][1] : null;
      fill(energyBox,
        h("p", { class: "big" }, "Stored energy: ",
          h("strong", { id: "stored-energy", dataset: { wh: t.energy_wh === null ? "" : String(t.energy_wh) } },
            t.energy_wh === null ? (t.active ? `${fmtKwh(t.energy_so_far_wh)} so far (not final)` : "none recorded") : fmtKwh(t.energy_wh))),
        lineChart({
          id: "chart-energy", quantity: "Energy delivered", unit: "kWh", digits: 3,
          series: [{ label: "register − meter start" + (t.stopped_at ? " (last point: meter stop)" : ""), points: energy.map(([at, wh]) => [at, wh / 1000]) }],
          attrs: last === null ? {} : { "data-last-wh": String(last) },
        }));
      fill(charts,
        lineChart({ id: "chart-power", quantity: "Power", unit: "kW", digits: 2, series: byPhase(readings, "Power.Active.Import", "W", 1000) }),
        lineChart({ id: "chart-voltage", quantity: "Voltage", unit: "V", digits: 1, zero: false, series: byPhase(readings, "Voltage", "V", 1) }),
        lineChart({ id: "chart-current", quantity: "Current", unit: "A", digits: 1, series: byPhase(readings, "Current.Import", "A", 1) }));
    },
  };
}

