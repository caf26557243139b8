// The dashboard's one door to the operator API: the token kept for this tab (session storage,
// so closing the tab forgets it), who it belongs to (GET /api/v1/me), and JSON requests that
// carry it. An answer of 401 logs out: the token expired or was revoked.

const KEY = "strom.api-token";
export const REFUSED = "The server no longer accepts this token (expired or revoked): log in again.";

export const session = {
  token: sessionStorage.getItem(KEY),
  /** {name, role} once known. */
  me: null,
  onLoggedOut: () => {},
};

export function canCommand() {
  return session.me?.role === "operator" || session.me?.role === "admin";
}

export function canAdmin() {
  return session.me?.role === "admin";
}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function authHeaders() {
  return session.token ? { Authorization: `Bearer ${session.token}` } : {};
}

/** A request to /api/v1`path`; resolves to the JSON answer (null for none), or throws ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  const text = await response.text();
  let answer = null;
  if (text) {
    try { answer = JSON.parse(text); } catch { answer = text; }
  }
  if (response.status === 401 && session.me) {
    logout(REFUSED);
  }
  if (!response.ok) {
    const message = (answer && answer.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, answer);
  }
  return answer;
}

/** Every item of a list, following its cursors, up to `max` items. */
export async function allItems(path, max = 5000) {
  const separator = path.includes("?") ? "&" : "?";
  let page = await api(`${path}${separator}limit=1000`);
  const items = [...page.items];
  while (page.next_cursor && items.length < max) {
    page = await api(`${path}${separator}limit=1000&cursor=${encodeURIComponent(page.next_cursor)}`);
    items.push(...page.items);
  }
  return items;
}

/** Asks who the token is; true when it is usable. */
export async function login(token) {
  session.token = token || null;
  try {
    session.me = await api("/me");
  } catch (e) {
    session.me = null;
    session.token = null;
    sessionStorage.removeItem(KEY);
    throw e;
  }
  if (session.token) sessionStorage.setItem(KEY, session.token);
  return session.me;
}

/** Forgets the token; `reason` is shown on the login form. */
export function logout(reason = "Logged out.") {
  session.token = null;
  session.me = null;
  sessionStorage.removeItem(KEY);
  session.onLoggedOut(reason);
}

export function enc(text) {
  return encodeURIComponent(text);
}
