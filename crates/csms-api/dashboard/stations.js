// Stations: the list with search and filters, and one station in detail: its connectors with
// live status, active sessions, the commands an operator may send, the OCPP message trace, and
// its configuration (1.6) or device model (2.0.1).

import { api, allItems, enc, canCommand } from "./api.js";
import { h, fill, redraw, table, badge, time, facts, field, place, fmtKwh, fmtKw } from "./dom.js";
import { stationCommands, connectorCommands } from "./commands.js";
import { trace } from "./trace.js";
import { severityBadge } from "./faults.js";

function connectionBadge(s) {
  return badge(s.connected ? "Connected" : "Offline");
}

function connectorSummary(s) {
  const connectors = s.connectors.filter((c) => c.connector_id !== 0);
  if (!connectors.length) return "—";
  return h("ul", { class: "inline" }, connectors.map((c) =>
    h("li", {}, `${place(c.evse_id, c.connector_id)}: `, badge(c.status || "Unknown"))));
}

export function stationList(container, query) {
  const search = h("input", { type: "search", placeholder: "id, vendor, model, firmware", value: query.get("q") || "" });
  const connection = h("select", {},
    h("option", { value: "" }, "any"), h("option", { value: "true" }, "connected"), h("option", { value: "false" }, "offline"));
  connection.value = query.get("connected") || "";
  const status = h("select", {}, h("option", { value: "" }, "any"));
  const version = h("select", {}, h("option", { value: "" }, "any"), h("option", { value: "1.6" }, "1.6"), h("option", { value: "2.0.1" }, "2.0.1"));
  const result = h("div");
  let stations = [];
  const statuses = ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved", "Occupied", "Unavailable", "Faulted"];
  for (const name of statuses) status.append(h("option", { value: name }, name));

  function draw() {
    const q = search.value.trim().toLowerCase();
    const shown = stations.filter((s) => {
      if (connection.value && String(s.connected) !== connection.value) return false;
      if (version.value && s.ocpp_version !== version.value) return false;
      if (status.value && !s.connectors.some((c) => c.status === status.value)) return false;
      if (!q) return true;
      return [s.id, s.vendor, s.model, s.firmware_version, s.serial_number].some((v) => v && v.toLowerCase().includes(q));
    });
    redraw(result, [shown, stations.length], () => [
      h("p", { class: "note", role: "status" }, `${shown.length} of ${stations.length} stations`),
      table("Stations", ["Station", "Connection", "OCPP", "Vendor / model", "Firmware", "Connectors", "Last seen"],
        shown.map((s) => [
          h("a", { href: `#/stations/${enc(s.id)}` }, s.id), connectionBadge(s), s.ocpp_version,
          `${s.vendor || "—"} / ${s.model || "—"}`, s.firmware_version, connectorSummary(s), time(s.last_seen_at),
        ]), "No station matches.")]);
  }
  for (const control of [search, connection, status, version]) control.addEventListener("input", draw);

  fill(container,
    h("h1", {}, "Stations"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      field("Search", search), field("Connection", connection), field("Connector status", status), field("OCPP version", version)),
    result);
  return {
    concerns: (e) => e.kind.startsWith("station.") || e.kind === "connector.status",
    async refresh() {
      stations = await allItems("/stations");
      draw();
    },
  };
}

/** A station's configuration keys (1.6) or device model (2.0.1). */
async function settings(station) {
  if (station.ocpp_version === "2.0.1") {
    const variables = await api(`/stations/${enc(station.id)}/variables`);
    return table("Device model (reported variables)", ["Component", "Variable", "Type", "Value", "Unit", "Mutability"],
      variables.map((v) => [
        [v.component, v.component_instance ? `[${v.component_instance}]` : "", v.evse_id ? ` EVSE ${v.evse_id}` : ""].join(""),
        v.variable + (v.variable_instance ? `[${v.variable_instance}]` : ""), v.attribute_type, v.value, v.unit, v.mutability,
      ]), "No variables reported yet (a report is asked for with GetBaseReport).");
  }
  const keys = await api(`/stations/${enc(station.id)}/configuration`);
  return table("Configuration keys", ["Key", "Value", "Read-only", "Updated"],
    keys.map((k) => [k.key, k.value, k.readonly ? "yes" : "no", time(k.updated_at)]),
    "No configuration read yet (fetch it with GetConfiguration).");
}

export function stationDetail(container, _query, id) {
  const heading = h("h1", {}, `Station ${id}`);
  const summary = h("div");
  const connectors = h("div");
  const sessions = h("div");
  const commands = h("div");
  const messages = h("div");
  const config = h("div");
  const faultsBox = h("div");
  let station = null;
  let built = false;
  let settingsLoaded = false;

  fill(container,
    h("p", { class: "crumbs" }, h("a", { href: "#/stations" }, "Stations"), " › ", id),
    heading, summary,
    h("section", { "aria-labelledby": "conn-h" }, h("h2", { id: "conn-h" }, "Connectors"), connectors),
    h("section", { "aria-labelledby": "tx-h" }, h("h2", { id: "tx-h" }, "Active sessions"), sessions),
    commands,
    h("section", { "aria-labelledby": "sf-h" }, h("h2", { id: "sf-h" }, "Open faults"), faultsBox),
    h("section", { "aria-labelledby": "msg-h" }, h("h2", { id: "msg-h" }, "OCPP message trace (newest first)"), messages),
    h("section", { "aria-labelledby": "cfg-h" },
      h("h2", { id: "cfg-h" }, "Configuration"),
      h("button", { type: "button", onclick: () => reloadSettings() }, "Reload configuration"),
      config));

  async function reloadSettings() {
    settingsLoaded = true;
    try {
      fill(config, await settings(station));
    } catch (e) {
      fill(config, h("p", { class: "error" }, `Could not read it: ${e.message}`));
    }
  }

  async function refresh() {
    const [s, active, open, log] = await Promise.all([
      api(`/stations/${enc(id)}`),
      api(`/transactions?station_id=${enc(id)}&active=true&limit=100`),
      api(`/faults?station_id=${enc(id)}&open=true&limit=100`),
      api(`/stations/${enc(id)}/messages?limit=60`),
    ]);
    station = s;
    redraw(summary, s, () => facts([
      ["Connection", [connectionBadge(s), s.connected_at ? [" since ", time(s.connected_at)] : ""]],
      ["Registration", badge(s.registration_status || "Unknown")],
      ["OCPP version", s.ocpp_version],
      ["Vendor / model", `${s.vendor || "—"} / ${s.model || "—"}`],
      ["Serial number", s.serial_number || s.charge_box_serial_number],
      ["Firmware", [s.firmware_version || "—", s.firmware_status ? ` (${s.firmware_status})` : ""]],
      ["Last boot", [time(s.last_boot_at), s.boot_reason ? ` (${s.boot_reason})` : ""]],
      ["Last seen", time(s.last_seen_at)],
      ["Security profile", String(s.security_profile ?? "—")],
    ]));
    // Connector 0 (1.6) is the station as a whole: shown as such, its commands are the station's.
    const rows = s.connectors;
    // A 2.0.1 session belongs to its EVSE (its connector id is optional), a 1.6 one to its connector.
    const activeByConnector = (c) => active.items.find((t) => (c.evse_id ? t.evse_id === c.evse_id : t.connector_id === c.connector_id));
    const activeIds = active.items.map((t) => [t.id, t.evse_id, t.connector_id]);
    redraw(connectors, [rows, activeIds, s.ocpp_version], () => table(`Connectors of ${id}`, ["Where", "Status", "Error", "Availability", "Since", ...(canCommand() ? ["Commands"] : [])],
      rows.map((c) => [
        place(c.evse_id, c.connector_id),
        h("span", { class: "conn-status", dataset: { evse: String(c.evse_id ?? ""), connector: String(c.connector_id) } }, badge(c.status || "Unknown")),
        c.error_code && c.error_code !== "NoError" ? [c.error_code, c.info ? ` — ${c.info}` : "", c.vendor_error_code ? ` (${c.vendor_error_code})` : ""] : "—",
        [badge(c.availability), c.availability_scheduled ? " (scheduled)" : ""],
        time(c.status_at),
        ...(canCommand() ? [c.connector_id === 0 ? "see Commands below" : connectorCommands(s, c, activeByConnector(c))] : []),
      ]), "No connector reported yet."));
    redraw(sessions, active.items, () => table("Active sessions", ["Transaction", "Where", "Id token", "Started", "Energy so far", "Power"],
      active.items.map((t) => [
        h("a", { href: `#/transactions/${t.id}` }, `#${t.id}`), place(t.evse_id, t.connector_id), t.id_token, time(t.started_at),
        fmtKwh(t.energy_so_far_wh), fmtKw(t.power_w),
      ]), "No session is running."));
    redraw(faultsBox, open.items, () => table("Open faults", ["Fault", "Where", "Code", "Category", "Severity", "Since"],
      open.items.map((f) => [h("a", { href: `#/faults?fault=${f.id}` }, `#${f.id}`), place(f.evse_id, f.connector_id), f.code,
        f.category, severityBadge(f.severity), time(f.started_at)]),
      "No open fault."));
    const openIds = new Set([...messages.querySelectorAll("details[open]")].map((d) => d.dataset.id));
    redraw(messages, log.items, () => trace(log.items, openIds));
    if (!built) {
      built = true;
      if (canCommand()) fill(commands, stationCommands(s, reloadSettings));
    }
    if (!settingsLoaded) await reloadSettings();
  }

  return {
    concerns: (e) => e.station_id === id,
    refresh,
  };
}
