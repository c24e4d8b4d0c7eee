// The console's only door to Pier: fetch with the stored API token, Koyeb-shaped errors turned into ApiError.

const TOKEN_KEY = 'pier.token';

/** An API failure with the wire's {status, code, message, fields[]}. */
export class ApiError extends Error {
  constructor(status, code, message, fields = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** The signed-in API token, or null. */
export function getToken() {
  return localStorage.getItem(TOKEN_KEY);
}

/** Stores the API token for this browser. */
export function setToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

/** Forgets the API token (sign out). */
export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

/**
 * Calls the API. `query` values may be arrays (repeated params). A 401 signs the user out
 * unless `keepSession` is set (the sign-in page checks a candidate token with it).
 */
export async function api(method, path, { body, query, token, keepSession } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const headers = { accept: 'application/json' };
  const auth = token ?? getToken();
  if (auth) headers.authorization = `Bearer ${auth}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, 'network_error', `Cannot reach the Pier API (${err.message})`);
  }
  const text = await res.text();
  let data = {};
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message: text }; }
  }
  if (!res.ok) {
    // Pier's stable code is in details[] (google.rpc.ErrorInfo); `code` is a gRPC number where Koyeb's spec says so.
    const info = Array.isArray(data.details) ? data.details.find((d) => d?.['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo') : undefined;
    const code = typeof info?.reason === 'string' ? info.reason : typeof data.code === 'string' ? data.code : `http_${res.status}`;
    const err = new ApiError(res.status, code, data.message ?? res.statusText, data.fields ?? []);
    if (res.status === 401 && !keepSession) {
      clearToken();
      window.dispatchEvent(new CustomEvent('pier:signed-out', { detail: err.message }));
    }
    throw err;
  }
  return data;
}

/** Fetches every page of a list endpoint (limit 100 per page, bounded to 20 pages). */
export async function listAll(path, key, query = {}) {
  const out = [];
  for (let page = 0; page < 20; page++) {
    const reply = await api('GET', path, { query: { ...query, limit: 100, offset: page * 100 } });
    const items = reply[key] ?? [];
    out.push(...items);
    const more = reply.has_next ?? (typeof reply.count === 'number' ? out.length < reply.count : items.length === 100);
    if (!more || items.length === 0) break;
  }
  return out;
}

/** GET /v1/pier/info, or an empty object when this server does not have it. */
export async function pierInfo() {
  try {
    return await api('GET', '/v1/pier/info', { keepSession: true });
  } catch {
    return {};
  }
}
