// The console's and portal's only way to the server: the public JSON API, with the signed-in
// user's token. Errors come back as RFC 9457 problem details; this turns them into messages
// that name the field and the reason.

const TOKEN_KEY = "safecity.token";
const PURPOSE_KEY = "safecity.purpose";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  },
  get purpose() { return sessionStorage.getItem(PURPOSE_KEY) || ""; },
  set purpose(value) {
    if (value) sessionStorage.setItem(PURPOSE_KEY, value); else sessionStorage.removeItem(PURPOSE_KEY);
  },
  signOut() { this.token = null; this.purpose = null; },
};

export class ApiError extends Error {
  constructor(status, problem) {
    const fields = (problem.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ");
    super(fields || problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(path, { method = "GET", body, auth = true, headers = {} } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (auth && session.token) h.Authorization = `Bearer ${session.token}`;
  if (auth && session.purpose) h["X-Safecity-Purpose"] = session.purpose;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers: h, body });
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, data || {});
  return data;
}

// A WebSocket to /v1/stream that comes back by itself. onState(connected, detail) drives the
// "live stream lost" banner; frames are {topic, subject, data}.
export function live(topics, onFrame, onState = () => {}) {
  let socket = null;
  let stopped = false;
  let delay = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ access_token: session.token || "", topics: topics.join(",") });
    if (session.purpose) params.set("purpose", session.purpose);
    socket = new WebSocket(`${proto}://${location.host}/v1/stream?${params}`);
    socket.onopen = () => { delay = 500; onState(true, "live"); };
    socket.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.topic !== "hello") onFrame(frame);
    };
    socket.onclose = (e) => {
      if (stopped) return;
      onState(false, e.reason || "connection lost");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
  return { close() { stopped = true; if (socket) socket.close(); } };
}

export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]
  ));
}
