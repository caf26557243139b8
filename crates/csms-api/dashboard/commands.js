// The commands an operator sends a station from its page: remote start and stop, reset,
// unlock, availability, trigger message, reading the configuration. Shown only to operators
// and admins (the API refuses a viewer's commands all the same). Each says what the station
// answered, in words, in the page's status region.

import { api, enc, ApiError } from "./api.js";
import { h, field, toast, place } from "./dom.js";

/** TriggerMessage's requestedMessage values per version (OCPP 1.6 §7.44, 2.0.1 MessageTriggerEnumType). */
const TRIGGERS = {
  "1.6": ["BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StatusNotification"],
  "2.0.1": ["BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues",
    "SignChargingStationCertificate", "SignV2GCertificate", "StatusNotification", "TransactionEvent", "SignCombinedCertificate",
    "PublishFirmwareStatusNotification"],
};

/** Sends a command; says its outcome. `label` names it for people. */
async function send(label, path, body, output) {
  // A connector's buttons report where the station's commands do.
  const box = output || document.getElementById("command-output");
  const say = (text, isError) => {
    if (box) box.textContent = text;
    toast(text, isError);
  };
  say(`${label}: sending…`);
  try {
    const answer = await api(path, { method: "POST", body });
    const status = answer && typeof answer === "object" ? answer.status : null;
    say(`${label}: the station answered ${status || JSON.stringify(answer)}`, status && status !== "Accepted" && status !== "Unlocked");
    return answer;
  } catch (e) {
    const text = e instanceof ApiError ? e.message : String(e);
    say(`${label}: ${text}`, true);
    return null;
  }
}

function button(text, onclick, attrs = {}) {
  return h("button", { type: "button", class: "command", ...attrs, onclick }, text);
}

/** What a connector's ids are in a command body, by the station's version. */
function target(station, c) {
  const v201 = station.ocpp_version === "2.0.1";
  return v201 ? { evse_id: c.evse_id ?? null, connector_id: c.connector_id } : { connector_id: c.connector_id };
}

/** The buttons in a connector's row: stop its session, unlock, operative or not. */
export function connectorCommands(station, c, activeTx) {
  const id = enc(station.id);
  const where = place(c.evse_id, c.connector_id);
  const operative = c.availability === "Operative";
  const ids = target(station, c);
  return h("div", { class: "row-commands", "data-command": "connector" },
    activeTx
      ? button("Stop session", () => send(`Remote stop of transaction ${activeTx.id}`, `/stations/${id}/remote-stop`, { transaction_id: activeTx.id }),
        { "aria-label": `Stop session ${activeTx.id} at ${where}` })
      : null,
    button("Unlock", () => send(`Unlock ${where}`, `/stations/${id}/unlock`, { connector_id: c.connector_id, ...(ids.evse_id ? { evse_id: ids.evse_id } : {}) }),
      { "aria-label": `Unlock ${where}` }),
    button(operative ? "Make inoperative" : "Make operative",
      () => send(`Availability of ${where}`, `/stations/${id}/availability`, { operative: !operative, ...ids }),
      { "aria-label": `${operative ? "Make inoperative" : "Make operative"}: ${where}` }));
}

/** The station-wide commands: remote start, reset, availability, trigger, configuration. */
export function stationCommands(station, onConfigurationRead = () => {}) {
  const id = enc(station.id);
  const v201 = station.ocpp_version === "2.0.1";
  const output = h("p", { class: "command-output", role: "status", "aria-live": "polite", id: "command-output" });

  const token = h("input", { type: "text", required: true, maxlength: "36", autocomplete: "off", id: "remote-start-token" });
  const connectors = station.connectors.filter((c) => c.connector_id !== 0);
  const where = h("select", { id: "remote-start-connector" },
    h("option", { value: "" }, "station chooses"),
    connectors.map((c, i) => h("option", { value: String(i) }, place(c.evse_id, c.connector_id))));
  if (connectors.length) where.value = "0";
  const force = h("input", { type: "checkbox", id: "remote-start-force" });
  const start = h("form", { class: "command-form", "data-command": "remote-start", onsubmit: (e) => {
    e.preventDefault();
    const c = where.value === "" ? null : connectors[Number(where.value)];
    const body = { id_token: token.value.trim(), ...(c ? target(station, c) : {}) };
    if (v201 && body.connector_id !== undefined && !body.evse_id) delete body.connector_id;
    if (force.checked) body.force = true;
    send(`Remote start for ${body.id_token}`, `/stations/${id}/remote-start`, body, output);
  } },
  h("fieldset", {}, h("legend", {}, "Remote start"),
    field("Id token", token), field("Where", where),
    h("span", { class: "field check" }, force, h("label", { for: "remote-start-force" }, "Send even if Ström would refuse the token")),
    h("button", { type: "submit", class: "command" }, "Remote start")));

  const trigger = h("select", { id: "trigger-message" }, TRIGGERS[v201 ? "2.0.1" : "1.6"].map((m) => h("option", { value: m }, m)));
  const triggerForm = h("form", { class: "command-form", "data-command": "trigger", onsubmit: (e) => {
    e.preventDefault();
    send(`Trigger ${trigger.value}`, `/stations/${id}/commands/TriggerMessage`, { requestedMessage: trigger.value }, output);
  } },
  h("fieldset", {}, h("legend", {}, "Trigger message"), field("Message", trigger), h("button", { type: "submit", class: "command" }, "Trigger")));

  // What the station answers is stored (1.6 GetConfiguration at once, a 2.0.1 report as its
  // NotifyReport messages arrive); the page then shows it.
  const fetchConfiguration = async () => {
    const answer = await (v201
      ? send("Full inventory report", `/stations/${id}/commands/GetBaseReport`, { requestId: Math.floor(Date.now() / 1000) % 2147483647, reportBase: "FullInventory" }, output)
      : send("Read configuration", `/stations/${id}/configuration/fetch`, { keys: [] }, output));
    if (answer) {
      onConfigurationRead();
      if (v201) setTimeout(onConfigurationRead, 3000);
    }
  };

  return h("section", { class: "commands", "aria-labelledby": "cmd-h", "data-command": "station" },
    h("h2", { id: "cmd-h" }, "Commands"),
    output,
    h("div", { class: "command-grid" },
      start,
      h("fieldset", { "data-command": "reset" }, h("legend", {}, "Reset"),
        button("Soft reset", () => send("Soft reset", `/stations/${id}/reset`, { type: "soft" }, output)),
        button("Hard reset", () => send("Hard reset", `/stations/${id}/reset`, { type: "hard" }, output))),
      h("fieldset", { "data-command": "availability" }, h("legend", {}, "Whole station"),
        button("Make station inoperative", () => send("Station inoperative", `/stations/${id}/availability`, { operative: false }, output)),
        button("Make station operative", () => send("Station operative", `/stations/${id}/availability`, { operative: true }, output)),
        button(v201 ? "Ask for the device model" : "Read configuration", fetchConfiguration)),
      triggerForm));
}
