// The client's only way to the server: the public REST API under /api/v1.
// The access token lives in this module's memory and nowhere else; the refresh token is an
// httpOnly cookie the page's script cannot read (docs/security.md, "The web client").

const TRANSPORT = { "X-Token-Transport": "cookie" };
const NETWORK_MESSAGE = "The server cannot be reached. Check the connection and try again.";

export class ApiError extends Error {
  constructor(status, error = {}) {
    super(error.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error.code || "";
    this.fields = error.fields || [];
    this.requestId = error.request_id || "";
    this.existingId = error.existing_id || "";
  }
}

let accessToken = null;
let expiredHandler = () => {};
let refreshing = null;

export function setAccessToken(token) {
  accessToken = token;
}

export function hasSession() {
  return accessToken !== null;
}

/** Called once when a refresh fails mid-use: the page goes back to the login screen. */
export function onSessionExpired(handler) {
  expiredHandler = handler;
}

async function errorFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML error page, or nothing at all: the status says enough.
  }
  const error = body.error || {};
  if (!error.message) {
    if (response.status === 429) error.message = "Too many attempts. Wait a minute and try again.";
    else if (response.status >= 500) error.message = "The server could not answer just now. Try again.";
  }
  return new ApiError(response.status, error);
}

async function send(url, init) {
  try {
    return await fetch(url, { credentials: "same-origin", ...init });
  } catch (error) {
    // A caller that aborted (a newer search replaced it) hears the abort, not "offline".
    if (init.signal?.aborted) throw error;
    throw new ApiError(0, { code: "NETWORK", message: NETWORK_MESSAGE });
  }
}

/** Trades the refresh cookie for a new access token; null when there is no live session.
 * Concurrent callers share one request, because a refresh token is spent on use. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const response = await send("/api/v1/auth/refresh", { method: "POST", headers: TRANSPORT });
      if (!response.ok) {
        accessToken = null;
        if (response.status === 401 || response.status === 422) return null;
        throw await errorFrom(response);
      }
      const tokens = await response.json();
      accessToken = tokens.access_token;
      return tokens;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function login(username, password) {
  const response = await send("/api/v1/auth/login", {
    method: "POST",
    headers: { ...TRANSPORT, "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await errorFrom(response);
  const tokens = await response.json();
  accessToken = tokens.access_token;
  return tokens;
}

export async function logout() {
  const headers = { ...TRANSPORT };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  accessToken = null;
  try {
    await send("/api/v1/auth/logout", { method: "POST", headers });
  } catch {
    // Offline: the memory token is gone already; the cookie expires on its own.
  }
}

function urlOf(path, query) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

async function authorized(method, path, { query, body, headers, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...(headers || {}) }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const url = urlOf(path, query);
  const attempt = () => {
    if (accessToken) init.headers.Authorization = `Bearer ${accessToken}`;
    return send(url, init);
  };
  let response = await attempt();
  if (response.status === 401) {
    // Access tokens are short-lived: renew quietly once, then give up on the session.
    const renewed = await refresh().catch(() => null);
    if (!renewed) {
      expiredHandler();
      throw await errorFrom(response);
    }
    response = await attempt();
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** A JSON call: resolves to the parsed body (null for 204), rejects with ApiError.
 * options: {query, body, headers, signal (an AbortSignal: aborting rejects with its reason)}. */
export async function request(method, path, options = {}) {
  const response = await authorized(method, path, options);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body, headers) => request("POST", path, { body, headers });
export const patch = (path, body, headers) => request("PATCH", path, { body, headers });

/** Fetches a file (CSV, PDF) with the session's token and hands it to the browser to save. */
export async function download(path, query, fallbackName) {
  const response = await authorized("GET", path, { query, headers: { Accept: "*/*" } });
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename="?([^";]+)"?/.exec(disposition);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = named ? named[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return link.download;
}

/** Fetches a file and returns an object URL (to open a PDF receipt in a new tab). */
export async function blobUrl(path, query) {
  const response = await authorized("GET", path, { query, headers: { Accept: "*/*" } });
  return URL.createObjectURL(await response.blob());
}

/** Every page of a list endpoint, for small lists (products, staff). */
export async function all(path, key, query = {}) {
  const items = [];
  let pageToken = "";
  do {
    const page = await get(path, { ...query, page_size: 100, page_token: pageToken });
    items.push(...page[key]);
    pageToken = page.page.next_page_token;
  } while (pageToken);
  return items;
}

/** Staff id -> staff record (GET /staff is for admins). An empty map when it cannot be read:
 * names are a nicety, and the screens show ids instead. */
export async function staffById(query = {}) {
  try {
    const staff = await all("/staff", "staff", query);
    return new Map(staff.map((s) => [s.id, s]));
  } catch {
    return new Map();
  }
}
