// HTTP helpers. The browser signs in with a session (POST /api/v1/auth/session/): an HttpOnly cookie the
// page's scripts never see, which every same-origin request, tile, audio element and link carries, so a
// link opened from the map (the popup's "Recording") opens signed in. Unsafe methods send the CSRF token
// from the csrftoken cookie as X-CSRFToken, as Django requires.
const LEGACY_TOKEN_KEY = "dawn-chorus-token";  // older builds kept an API token here; it is dropped
localStorage.removeItem(LEGACY_TOKEN_KEY);
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

// Kept for modules that still ask: the page holds no token any more.
export const auth = {
  get token() { return ""; },
  set token(_value) { /* sessions only */ },
};

export function authHeaders() {
  return {};
}

// Subprotocols for a websocket: the version only; the session cookie signs the socket in.
export function socketProtocols() {
  return ["dawn.v1"];
}

export function csrfToken() {
  const match = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
  return match ? decodeURIComponent(match.slice("csrftoken=".length)) : "";
}

function withCsrf(options) {
  const method = (options.method || "GET").toUpperCase();
  const headers = { ...(options.headers || {}) };
  if (!SAFE.has(method)) headers["X-CSRFToken"] = csrfToken();
  return { ...options, headers, credentials: "same-origin" };
}

async function errorFor(response) {
  let message = `${response.status}`;
  try { const body = await response.json(); message = body.error ? `${body.error.code}: ${body.error.message}` : message; } catch { /* not JSON */ }
  const error = new Error(message);
  error.status = response.status;
  return error;
}

export async function api(path, options = {}) {
  const response = await fetch(path, withCsrf(options));
  if (!response.ok) throw await errorFor(response);
  return response;
}

export const getJson = async (path) => (await api(path)).json();

// Who is signed in; also makes sure the csrftoken cookie is set.
export const session = () => getJson("/api/v1/auth/session/");

export async function login(username, password) {
  if (!csrfToken()) await session();
  const response = await fetch("/api/v1/auth/session/", withCsrf({
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }),
  }));
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : "Sign-in failed");
  return body;
}

export async function logout() {
  await api("/api/v1/auth/session/", { method: "DELETE" });
}
