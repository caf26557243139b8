// Id tokens (RFID cards, app ids): the list, and for admins a form to create one and buttons to
// block or unblock one (the API lets only admins change id tokens).

import { api, allItems, enc, canAdmin, ApiError } from "./api.js";
import { h, fill, redraw, table, badge, time, field, toast } from "./dom.js";

const STATUSES = ["Accepted", "Blocked", "Expired", "Invalid", "NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime"];
const TYPES = ["", "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"];

/** The token with a new status; PUT replaces the whole token, so every field is sent again. */
async function setStatus(t, status) {
  const body = { status, expiry: t.expiry, parent_id_token: t.parent_id_token, type: t.type };
  try {
    await api(`/id-tokens/${enc(t.id_token)}`, { method: "PUT", body });
    toast(`${t.id_token} is now ${status}`);
  } catch (e) {
    toast(`${t.id_token}: ${e instanceof ApiError ? e.message : e}`, true);
  }
}

export function idTokens(container) {
  const list = h("div", { id: "id-token-list" });
  const search = h("input", { type: "search", placeholder: "token" });
  let tokens = [];
  let reload = () => {};

  function draw() {
    const q = search.value.trim().toLowerCase();
    const shown = tokens.filter((t) => !q || t.id_token.toLowerCase().includes(q));
    redraw(list, [shown, tokens.length], () => table(`Id tokens (${shown.length} of ${tokens.length})`,
      ["Token", "Status", "Type", "Expiry", "Group (parent)", ...(canAdmin() ? ["Change"] : [])],
      shown.map((t) => [
        h("code", {}, t.id_token), badge(t.status), t.type || "any", time(t.expiry), t.parent_id_token,
        ...(canAdmin() ? [t.status === "Blocked"
          ? h("button", { type: "button", class: "command", "aria-label": `Unblock ${t.id_token}`, onclick: async () => { await setStatus(t, "Accepted"); reload(); } }, "Unblock")
          : h("button", { type: "button", class: "command", "aria-label": `Block ${t.id_token}`, onclick: async () => { await setStatus(t, "Blocked"); reload(); } }, "Block")] : []),
      ]), "No id token yet."));
  }
  search.addEventListener("input", draw);

  let form = null;
  if (canAdmin()) {
    const token = h("input", { type: "text", required: true, maxlength: "36", autocomplete: "off" });
    const status = h("select", {}, STATUSES.map((st) => h("option", { value: st }, st)));
    const type = h("select", {}, TYPES.map((ty) => h("option", { value: ty }, ty || "any (none given)")));
    const expiry = h("input", { type: "datetime-local" });
    const parent = h("input", { type: "text", maxlength: "36", autocomplete: "off" });
    const output = h("p", { role: "status", class: "command-output" });
    form = h("form", { class: "command-form", "data-command": "id-token", onsubmit: async (e) => {
      e.preventDefault();
      const body = { id_token: token.value.trim(), status: status.value };
      if (type.value) body.type = type.value;
      if (expiry.value) body.expiry = new Date(expiry.value).toISOString();
      if (parent.value.trim()) body.parent_id_token = parent.value.trim();
      try {
        await api("/id-tokens", { method: "POST", body });
        output.textContent = `Created ${body.id_token} (${body.status}).`;
        token.value = "";
        reload();
      } catch (err) {
        output.textContent = `Not created: ${err.message}`;
      }
    } },
    h("fieldset", {}, h("legend", {}, "New id token"),
      field("Token", token), field("Status", status), field("Type", type), field("Expiry (local time)", expiry),
      field("Group (parent token)", parent), h("button", { type: "submit" }, "Create"), output));
  }

  fill(container,
    h("h1", {}, "Id tokens"),
    form || h("p", { class: "note" }, "Only an admin token may create, block or unblock id tokens."),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() }, field("Search", search)),
    list);
  const view = {
    concerns: () => false,
    async refresh() {
      tokens = await allItems("/id-tokens");
      draw();
    },
  };
  reload = () => view.refresh();
  return view;
}
