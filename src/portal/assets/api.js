// The admin REST API from the page: JSON in and out, the session cookie sent by the browser,
// the CSRF token (kept in memory only) sent as X-CSRF-Token on every change. Failures are
// ApiError with the HTTP status, the API's error code and message, and Retry-After.

let csrfToken = '';
let onExpired = null;

export function setCsrfToken(token) {
  csrfToken = token || '';
}

// Called when a signed-in call answers 401 (the session ended or expired).
export function onSessionExpired(f) {
  onExpired = f;
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || String(status));
    this.status = status;
    this.code = code || '';
    this.detail = message || '';
    this.retryAfter = retryAfter;
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// `path` is under /api/v1; path segments from data are encoded by the caller with seg().
export async function call(method, path, body, {anonymous = false} = {}) {
  const headers = {Accept: 'application/json'};
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch('/api/v1' + path, init);
  } catch {
    throw new ApiError(0, 'network', '');
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = (data && data.error) || {};
    const retry = Number(response.headers.get('Retry-After')) || 0;
    const e = new ApiError(response.status, err.code, err.message, retry);
    if (response.status === 401 && !anonymous && onExpired) onExpired(e);
    throw e;
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body, options) => call('POST', path, body, options);
export const put = (path, body) => call('PUT', path, body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

// One path segment from data (a client_id, an e-mail, a code).
export function seg(value) {
  return encodeURIComponent(String(value));
}

// True for the 404 of a route this bus does not serve yet.
export function isMissingRoute(e) {
  return e instanceof ApiError && e.status === 404 && /no such route/.test(e.detail);
}
