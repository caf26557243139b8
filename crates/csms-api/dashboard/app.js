// The operator dashboard's entry: log in with an API token, route by the URL's hash to a view,
// and keep the view current from the live events. A view is
// `render(container, query, ...params) -> {refresh(), concerns(event), dispose?()}`: it draws its
// frame once (forms and buttons keep their focus and input), and `refresh` redraws its data.

import { api, session, login, logout, ApiError, REFUSED } from "./api.js";
import * as live from "./live.js";
import { h, fill } from "./dom.js";
import { overview } from "./overview.js";
import { stationList, stationDetail } from "./stations.js";
import { faultBoard } from "./faults.js";
import { transactionList, transactionDetail } from "./transactions.js";
import { idTokens } from "./tokens.js";
import { availabilityReports } from "./availability.js";

const ROUTES = [
  [/^$/, overview],
  [/^stations$/, stationList],
  [/^stations\/([^/]+)$/, stationDetail],
  [/^faults$/, faultBoard],
  [/^transactions$/, transactionList],
  [/^transactions\/(\d+)$/, transactionDetail],
  [/^id-tokens$/, idTokens],
  [/^availability$/, availabilityReports],
];

const $ = (id) => document.getElementById(id);
let current = null;
let refreshing = null;
let again = false;

/** Refreshes the current view; a refresh asked for while one runs runs once after it. */
async function refresh() {
  if (!current) return;
  if (refreshing) { again = true; return; }
  const view = current;
  refreshing = (async () => {
    try {
      await view.refresh();
      if (view.errorBox) view.errorBox.textContent = "";
    } catch (e) { showError(view, e); }
  })();
  await refreshing;
  refreshing = null;
  if (again) { again = false; refresh(); }
}

function showError(view, e) {
  if (e instanceof ApiError && e.status === 401) return;
  const box = view.errorBox;
  if (box) box.textContent = `Could not load: ${e.message}`;
  else console.error(e);
}

function route(event) {
  if (!session.me) return;
  const moved = event?.type === "hashchange" || event?.type === "login";
  if (current?.dispose) current.dispose();
  const [rawPath, rawQuery = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const path = decodeURIComponent(rawPath);
  const query = new URLSearchParams(rawQuery);
  const container = $("view");
  let found = null;
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (match) { found = [view, match.slice(1)]; break; }
  }
  for (const link of document.querySelectorAll("#nav a")) {
    const target = link.getAttribute("href").replace(/^#\/?/, "");
    const here = target === "" ? path === "" : path === target || path.startsWith(`${target}/`);
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!found) {
    fill(container, h("h1", {}, "Not found"), h("p", {}, "No such page. ", h("a", { href: "#/" }, "Back to the overview")));
    current = null;
    return;
  }
  const errorBox = h("p", { class: "error", role: "alert" });
  const body = h("div");
  fill(container, errorBox, body);
  current = found[0](body, query, ...found[1]);
  current.errorBox = errorBox;
  // Keyboard and screen-reader users land on the new page's heading (on a fresh load the
  // browser's own start, the skip link first, stays).
  const heading = container.querySelector("h1");
  if (heading) heading.tabIndex = -1;
  if (heading && moved) heading.focus({ preventScroll: true });
  refresh();
}

let pending = null;
function onLiveEvent(event) {
  if (!current) return;
  if (event.kind !== "live.resync" && current.concerns && !current.concerns(event)) return;
  // Several events in a burst make one refresh.
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh(); }, 100);
}

function liveState(state, text) {
  const box = $("live-state");
  box.textContent = text;
  box.dataset.state = state;
}

/** An open event stream is not asked for the token again: who the token is, is asked every
 * minute, so a token revoked or expired ends the session within a minute even on a quiet page. */
const RECHECK_MS = 60000;
let recheck = null;

function showLoggedIn(byForm = false) {
  clearInterval(recheck);
  recheck = setInterval(() => { api("/me").catch(() => {}); }, RECHECK_MS);
  $("login").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  const me = session.me;
  $("who-text").textContent = `${me.name ? me.name + " — " : ""}${me.role}${me.role === "viewer" ? " (read only)" : ""}`;
  document.body.dataset.role = me.role;
  live.start(liveState, () => logout(REFUSED));
  route(byForm ? { type: "login" } : undefined);
}

function showLogin(message = "") {
  clearInterval(recheck);
  live.stop();
  if (current?.dispose) current.dispose();
  current = null;
  fill($("view"));
  $("nav").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  delete document.body.dataset.role;
  $("login-token").focus();
}

async function start() {
  live.onEvent(onLiveEvent);
  window.addEventListener("hashchange", route);
  session.onLoggedOut = (reason) => showLogin(reason);
  $("logout").addEventListener("click", () => logout());
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("login-token").value.trim();
    try {
      await login(token);
      $("login-token").value = "";
      showLoggedIn(true);
    } catch (err) {
      showLogin(err instanceof ApiError && err.status === 401 ? `Not accepted: ${err.message}` : `Could not log in: ${err.message}`);
    }
  });
  // A token kept from earlier in this tab needs no form.
  if (!session.token) { showLogin(); return; }
  try {
    await login(session.token);
    showLoggedIn();
  } catch {
    showLogin();
  }
}

start();
