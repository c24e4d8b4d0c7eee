// The request target as RFC 9112 §3.2 defines it, checked before routing. Origin form (`/path?query`) is the fast
// path: one character test and one `indexOf('%')`. The rare forms are handled here: absolute form
// (`GET http://host/p`, §3.2.2: the target's authority replaces Host and `/p` is the path), asterisk form
// (`OPTIONS *`, answered by the edge itself) and malformed percent-encoding in the path (400, never forwarded).

/** What the edge answers `OPTIONS *` with: the methods routes accept (the edge forwards every method). */
export const ASTERISK_ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** An absolute-form target split into what routing needs. */
export interface AbsoluteTarget { authority: string; url: string }

const SCHEME = /^https?:\/\//i;
const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]+)(:[0-9]{0,5})?$/;

/**
 * Splits `http://authority/path?query` into the authority and the origin-form target (`/path?query`, `/` when the
 * path is empty); a string says why the target cannot be served (other schemes, userinfo, no host).
 */
export function absoluteTarget(url: string): AbsoluteTarget | string {
  const m = SCHEME.exec(url);
  if (m === null) return `request target "${clip(url)}" is neither a path nor an http(s) URL`;
  const rest = url.slice(m[0].length);
  let end = rest.length;
  for (const c of '/?#') {
    const i = rest.indexOf(c);
    if (i >= 0 && i < end) end = i;
  }
  const authority = rest.slice(0, end);
  if (authority.includes('@')) return 'request target must not carry user information (user@host)';
  if (!AUTHORITY.test(authority)) return `request target "${clip(url)}" has no valid host`;
  const tail = rest.slice(end);
  const path = tail === '' ? '/' : tail.charCodeAt(0) === 63 /* ? */ ? `/${tail}` : tail;
  return { authority, url: path };
}

/** True when the path part of an origin-form target (before `?`) has a `%` not followed by two hex digits. */
export function malformedPercent(url: string): boolean {
  const q = url.indexOf('?');
  const end = q < 0 ? url.length : q;
  for (let i = url.indexOf('%'); i >= 0 && i < end; i = url.indexOf('%', i + 1)) {
    if (i + 2 >= end || !isHex(url.charCodeAt(i + 1)) || !isHex(url.charCodeAt(i + 2))) return true;
  }
  return false;
}

/** True when a raw header list (name, value, ...) holds more than one Host field (RFC 9112 §3.2: answer 400). */
export function duplicateHost(raw: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length !== 4 || n.toLowerCase() !== 'host') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}
