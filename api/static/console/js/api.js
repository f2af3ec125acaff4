// Calls to the screening service: API key handling and the one error shape.

const KEY_NAME = "audio-detect.apiKey";

/** The API key kept for this browser tab (sessionStorage), or "". */
export function getKey() {
  try {
    return sessionStorage.getItem(KEY_NAME) || "";
  } catch {
    return "";
  }
}

/** Keep (or with "" forget) the API key for this tab. */
export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_NAME, key);
    else sessionStorage.removeItem(KEY_NAME);
  } catch {
    /* storage disabled: the key lives for this page only */
  }
}

/** An error answered by the service (or the network). */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }

  /** "code: message (HTTP 422, request id ...)". */
  describe() {
    const rid = this.requestId ? `, request id ${this.requestId}` : "";
    const status = this.status ? `HTTP ${this.status}` : "no response";
    return `${this.code}: ${this.message} (${status}${rid})`;
  }
}

/**
 * fetch() a JSON endpoint of the service with the API key; return the parsed body.
 * Throws ApiError with the service's code/message on any non-2xx answer.
 */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const key = getKey();
  const h = { Accept: "application/json", ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { method, body, headers: h, signal, credentials: "omit" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network_error", `The service could not be reached (${err.message}).`);
  }
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(
      response.status,
      e.code || `http_${response.status}`,
      e.message || response.statusText || "Request failed.",
      e.request_id || response.headers.get("X-Request-ID"),
    );
  }
  return data;
}

/** Show an error (or clear it with null) in an alert element. */
export function showError(node, err) {
  if (!err) {
    node.hidden = true;
    node.textContent = "";
    return;
  }
  node.textContent = err instanceof ApiError ? err.describe() : String(err.message || err);
  if (err instanceof ApiError && (err.status === 401 || err.status === 403) && !getKey()) {
    node.textContent += " Enter an API key at the top of the page.";
  }
  node.hidden = false;
}
