// HTTP helpers: the API token (after sign-in) goes with every request to our own origin.
const TOKEN_KEY = "dawn-chorus-token";

export const auth = {
  get token() { return localStorage.getItem(TOKEN_KEY) || ""; },
  set token(value) { value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY); },
};

export function authHeaders() {
  return auth.token ? { Authorization: `Token ${auth.token}` } : {};
}

export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
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
