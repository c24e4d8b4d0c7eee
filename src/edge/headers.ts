// Header handling shared by the HTTP, h2c and WebSocket paths: which headers are hop-by-hop, and a cheap
// test for "might this raw header name be one we care about" that avoids lower-casing every name.

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus ones the edge replaces itself; never forwarded as received. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authorization', 'proxy-authenticate',
]);

/** Lengths of every header name the request scan looks at; other names are passed through untouched. */
export function interestingLengths(extra: string[]): Uint8Array {
  const names = [
    ...HOP_BY_HOP, 'host', 'expect', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id',
    'authorization', 'x-api-key', 'content-length', 'accept', 'http2-settings', ...extra,
  ];
  const table = new Uint8Array(256);
  for (const n of names) if (n.length < 256) table[n.length] = 1;
  return table;
}

/** Response header names (lower-case) the edge drops from upstream answers, by length first. */
const RESPONSE_DROP = new Set([...HOP_BY_HOP, 'x-request-id']);
const RESPONSE_LENGTHS = new Uint8Array(256);
for (const n of RESPONSE_DROP) RESPONSE_LENGTHS[n.length] = 1;

/** True when a response header (any case) must not be passed to the client. */
export function dropResponseHeader(name: string): boolean {
  return name.length < 256 && RESPONSE_LENGTHS[name.length] === 1 && RESPONSE_DROP.has(name.toLowerCase());
}

/** The last entry of an x-forwarded-for value (the address the proxy in front appended), trimmed; '' when none. */
export function lastForwardedFor(xff: string | undefined): string {
  if (xff === undefined) return '';
  const i = xff.lastIndexOf(',');
  return (i < 0 ? xff : xff.slice(i + 1)).trim();
}

/** Request ids from clients are kept only when short and plain, so they are safe in logs and headers. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:@+=-]{1,128}$/;

/** Tokens of a `connection` header other than keep-alive/close: headers the client marked hop-by-hop. */
export function connectionTokens(value: string): string[] {
  const out: string[] = [];
  for (const t of value.split(',')) {
    const v = t.trim().toLowerCase();
    if (v && v !== 'keep-alive' && v !== 'close' && v !== 'upgrade') out.push(v);
  }
  return out;
}
