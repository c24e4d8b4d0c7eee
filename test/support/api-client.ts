// The bearer-token JSON client every real-Pier test harness uses: status plus the parsed body (text when not JSON).

/** A reply of the Pier API. */
export interface ApiReply<T = any> { status: number; body: T }

/** A client for `baseUrl` that sends `token` as a bearer token and JSON bodies. */
export function apiClient(baseUrl: string, token: string) {
  return async function api<T = any>(method: string, path: string, body?: unknown): Promise<ApiReply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* keep text */ }
    return { status: res.status, body: parsed as T };
  };
}
