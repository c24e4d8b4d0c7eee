// Serves the web console: plain ES modules and CSS from ./static, plus the charting library from node_modules.
// No build step: the browser loads the files as they are on disk.
import type http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const staticRoot = join(dirname(fileURLToPath(import.meta.url)), 'static');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Third-party files the console may load, by public name; resolved lazily so a missing package only breaks charts. */
const vendorFiles: Record<string, string> = {
  'uplot.esm.js': 'uplot/dist/uPlot.esm.js',
  'uplot.min.css': 'uplot/dist/uPlot.min.css',
};

const requireFromHere = createRequire(import.meta.url);

/** Maps a request path to a file on disk, or undefined when it is not a console file (or tries to escape). */
export function resolveConsolePath(pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  if (decoded.startsWith('/vendor/')) {
    const target = vendorFiles[decoded.slice('/vendor/'.length)];
    if (!target) return undefined;
    try {
      return requireFromHere.resolve(target);
    } catch {
      return undefined;
    }
  }
  // Client-side routes use the hash, so "/" and any extension-less path get the single page.
  if (decoded === '/' || extname(decoded) === '') return join(staticRoot, 'index.html');
  const file = normalize(join(staticRoot, decoded));
  if (!file.startsWith(staticRoot + sep)) return undefined;
  return file;
}

/** Serves a console file for GET/HEAD requests outside the API; returns true when it wrote the response. */
export function handleConsole(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const pathname = new URL(req.url ?? '/', 'http://console.invalid').pathname;
  const file = resolveConsolePath(pathname);
  if (!file) return false;
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return false;
    size = st.size;
  } catch {
    return false;
  }
  const isPage = file.endsWith('.html');
  res.writeHead(200, {
    'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
    'content-length': String(size),
    // The page must always be fresh so a new Pier version's modules are picked up; assets revalidate cheaply.
    'cache-control': isPage ? 'no-store' : 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(isPage ? { 'content-security-policy': csp, 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  const stream = createReadStream(file);
  stream.on('error', (err) => res.destroy(err));
  stream.pipe(res);
  return true;
}

// Scripts and styles only from ourselves; API calls and the log websocket go to the same origin.
const csp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');
