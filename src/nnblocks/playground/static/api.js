// Talking to the playground's server: JSON requests, and the session's stream of frames (Server-Sent Events).

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// A JSON request; a 4xx/5xx answer becomes an ApiError carrying the server's own message.
export async function request(method, path, body, contentType = "application/json") {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
    init.headers["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "the playground server cannot be reached (was it stopped?)");
  }
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch (err) { value = { error: text }; }
  if (!response.ok) throw new ApiError(response.status, (value && value.error) || response.statusText);
  return value;
}

// One browser tab's session: created when the page loads, its id kept in memory only (so tabs never share one).
export class Session {
  constructor(id) { this.id = id; this.base = `/api/sessions/${id}`; this.source = null; }

  static async create(settings) {
    const answer = await request("POST", "/api/sessions", settings || {});
    return new Session(answer.id);
  }

  post(what, body) { return request("POST", `${this.base}/${what}`, body === undefined ? {} : body); }
  settings(changes) { return this.post("settings", changes); }
  upload(file) {
    return file.arrayBuffer().then(bytes =>
      request("POST", `${this.base}/upload?name=${encodeURIComponent(file.name)}`, bytes, "text/csv"));
  }
  url(what) { return `${this.base}/${what}`; }

  // Frames and points arrive as "frame" / "points" events; EventSource reconnects by itself after a hiccup.
  listen({ onFrame, onPoints, onClosed, onError }) {
    this.source = new EventSource(this.url("stream"));
    this.source.addEventListener("frame", e => onFrame(JSON.parse(e.data)));
    this.source.addEventListener("points", e => onPoints(JSON.parse(e.data)));
    this.source.addEventListener("closed", () => { this.source.close(); onClosed(); });
    this.source.onerror = () => { if (this.source.readyState === EventSource.CLOSED) onError(); };
  }

  // The tab is going away: tell the server, even while the page unloads.
  close() {
    if (this.source) this.source.close();
    navigator.sendBeacon(this.url("close"), new Blob(["{}"], { type: "application/json" }));
  }
}
