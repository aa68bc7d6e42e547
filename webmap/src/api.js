// HTTP helpers: the API token (after sign-in) goes with every request to our own origin, in the
// Authorization header only. Tokens expire after days without use: a 401 while holding one forgets it
// and asks again without (the map works signed out).
const TOKEN_KEY = "dawn-chorus-token";

export const auth = {
  get token() { return localStorage.getItem(TOKEN_KEY) || ""; },
  set token(value) { value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY); },
};

export function authHeaders() {
  return auth.token ? { Authorization: `Token ${auth.token}` } : {};
}

// Subprotocols for a websocket: the version, and the token when signed in (never in the URL).
export function socketProtocols() {
  return auth.token ? ["dawn.v1", `token.${auth.token}`] : ["dawn.v1"];
}

export async function api(path, options = {}) {
  let response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (response.status === 401 && auth.token) {  // expired or revoked: continue signed out
    auth.token = "";
    response = await fetch(path, { ...options, headers: { ...(options.headers || {}) } });
  }
  if (!response.ok) {
    let message = `${response.status}`;
    try { const body = await response.json(); message = body.error ? `${body.error.code}: ${body.error.message}` : message; } catch { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

export const getJson = async (path) => (await api(path)).json();

export async function login(username, password) {
  const response = await fetch("/api/v1/auth/login/", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : "Sign-in failed");
  auth.token = body.token;
  return body;
}
