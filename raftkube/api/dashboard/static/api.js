// The API over fetch: the user's bearer token (sessionStorage) on every request; lists kept live by watches.
const TOKEN_KEY = "raftkube.dashboard.token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(code, reason, message) {
    super(message);
    this.code = code;
    this.reason = reason;
  }

  toString() {
    const what = { 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found" }[this.code] || String(this.code);
    return `${what}: ${this.message}`;
  }
}

async function errorOf(response) {
  let message = response.statusText || "request failed";
  let reason = "";
  try {
    const body = await response.json();
    message = body.message || message;
    reason = body.reason || "";
  } catch (_) { /* not a Status */ }
  return new ApiError(response.status, reason, message);
}

async function send(method, path, { body, contentType = "application/json", signal } = {}) {
  const headers = { Authorization: `Bearer ${session.token()}`, Accept: "application/json" };
  const init = { method, headers, signal, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = contentType;
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function request(method, path, options = {}) {
  const response = await send(method, path, options);
  return response.status === 204 ? null : response.json();
}

// The lines of a streamed response body, as they arrive.
export async function* lines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer) yield buffer;
}

export function stream(path, signal) {
  return send("GET", path, { signal });
}

const keyOf = (obj) => `${obj.metadata.namespace || ""}/${obj.metadata.name}`;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A collection listed once, then kept current by its watch (`?watch=true`, one JSON event a line): re-watched
// from the last resourceVersion when the stream ends, re-listed after a 410 Gone. `onChange(items)` runs at
// most every 50 ms; `onError(err)` on a refusal (401/403: no retry) or a broken stream (retried after 1 s).
export class LiveList {
  constructor(path, onChange, onError) {
    this.path = path;
    this.onChange = onChange;
    this.onError = onError;
    this.items = new Map();
    this.controller = new AbortController();
    this.timer = null;
    this.run();
  }

  stop() {
    this.controller.abort();
    clearTimeout(this.timer);
  }

  changed() {
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.controller.signal.aborted) this.onChange([...this.items.values()]);
      }, 50);
    }
  }

  async run() {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        const list = await request("GET", this.path, { signal });
        this.items = new Map((list.items || []).map((obj) => [keyOf(obj), obj]));
        this.changed();
        let version = list.metadata.resourceVersion;
        let gone = false;
        while (!signal.aborted && !gone) {
          const sep = this.path.includes("?") ? "&" : "?";
          const response = await stream(`${this.path}${sep}watch=true&allowWatchBookmarks=true` +
                                        `&resourceVersion=${encodeURIComponent(version)}`, signal);
          for await (const line of lines(response)) {
            if (!line.trim()) continue;
            const event = JSON.parse(line);
            if (event.type === "ERROR") { gone = true; break; }  // (410: too old) list again
            version = event.object.metadata.resourceVersion;
            if (event.type === "BOOKMARK") continue;
            if (event.type === "DELETED") this.items.delete(keyOf(event.object));
            else this.items.set(keyOf(event.object), event.object);
            this.changed();
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        this.onError(err);
        if (err instanceof ApiError && (err.code === 401 || err.code === 403)) return;
        await pause(1000);
      }
    }
  }
}

export const q = encodeURIComponent;

// `/api/v1[/namespaces/NS]/RESOURCE` (or `/apis/GROUP/VERSION/...`): the collection, in one namespace or all.
export function collection(groupVersion, resource, namespace) {
  const root = groupVersion === "v1" ? "/api/v1" : `/apis/${groupVersion}`;
  return namespace ? `${root}/namespaces/${q(namespace)}/${resource}` : `${root}/${resource}`;
}

export function objectPath(groupVersion, resource, namespace, name, subresource) {
  return `${collection(groupVersion, resource, namespace)}/${q(name)}${subresource ? "/" + subresource : ""}`;
}
