// The runtime wrapper of a JavaScript/TypeScript function: an HTTP server on $PORT that loads the compiled handler
// once, turns each request into a WHATWG Request, calls `fetch(request, env, ctx)` and streams the Response back.
// Compiled by esbuild into .pier/function/wrapper.mjs at build time and run with plain `node` (no tsx): startup
// time is the function's cold start. Imports only node builtins. Errors in user code become 500s with a request id
// and one JSON log line with the stack; the process keeps serving. SIGTERM stops accepting and finishes in-flight
// requests. A handler that cannot be loaded exits 1 with the load error as the last line (the deployment fails).
import http from 'node:http';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/** What the handler's `fetch` receives as its third argument. */
interface FunctionContext {
  requestId: string;
  /** Keeps the instance alive on shutdown until `promise` settles (work after the response). */
  waitUntil(promise: Promise<unknown>): void;
}

type FetchHandler = (request: Request, env: Record<string, string | undefined>, ctx: FunctionContext) => unknown;

/** Answered by the wrapper itself (never the handler): the platform's HTTP health check of a function. */
export const HEALTH_PATH = '/.pier/health';

const SANE_ID = /^[A-Za-z0-9._:@+=-]{1,128}$/;

// Behind the edge every request carries its id; this fallback (direct calls) avoids loading node:crypto at startup,
// which the cold start would pay for.
const BOOT_ID = Math.random().toString(36).slice(2, 10);
let served = 0;
function localRequestId(): string { return `${BOOT_ID}-${(++served).toString(36)}`; }

/** One structured log line on stderr (the platform stores it with the instance's logs). */
function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ level, msg, ...fields }) + '\n');
}

// stdout and stderr are pipes to the platform's log readers. Were a reader gone, a failed write would be an 'error'
// event, i.e. an uncaught exception, whose log line fails again: a loop at 100% CPU that never reaches SIGTERM's
// exit. A line nobody can read is dropped instead; the instance keeps serving.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

function intAtLeast(raw: string | undefined, min: number, fallback: number): number {
  const n = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isInteger(n) && n >= min ? n : fallback;
}

async function loadHandler(file: string): Promise<FetchHandler> {
  const mod = await import(pathToFileURL(file).href) as { default?: unknown; fetch?: unknown };
  const d = mod.default as { fetch?: unknown } | ((...a: unknown[]) => unknown) | undefined;
  if (d && typeof (d as { fetch?: unknown }).fetch === 'function') return (d as { fetch: FetchHandler }).fetch.bind(d);
  if (typeof mod.fetch === 'function') return mod.fetch as FetchHandler;
  throw new Error('the handler module has no `export default { fetch(request) { ... } }` (nor an exported fetch function)');
}

function toRequest(req: http.IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    try { headers.append(raw[i], raw[i + 1]); } catch { /* a header value fetch refuses is dropped, not fatal */ }
  }
  const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  const host = req.headers.host ?? 'localhost';
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers, signal };
  if (hasBody) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(`${proto}://${host}${req.url ?? '/'}`, init);
}

async function writeResponse(res: http.ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => { if (key !== 'set-cookie') headers[key] = value; });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (!response.body) { res.end(); return; }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (res.destroyed) break;
    if (!res.write(chunk)) await new Promise<void>((r) => { res.once('drain', r); res.once('close', r); });
  }
  res.end();
}

function fail(res: http.ServerResponse, status: number, requestId: string, text: string): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-request-id': requestId });
  res.end(`${text} (request id ${requestId})\n`);
}

/** Starts the wrapper: loads `handlerFile`, listens on `port`; resolves with the server once it listens. */
export async function startFunction(o: { handlerFile: string; port: number; timeoutMs: number; host?: string }): Promise<http.Server> {
  // Date, not performance: the global `performance` loads perf_hooks (nine modules) on first use.
  const started = Date.now();
  const handler = await loadHandler(o.handlerFile);
  const env = { ...process.env };
  const pending = new Set<Promise<unknown>>();
  let inFlight = 0;
  let closing = false;
  let idle: (() => void) | undefined;

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.url === HEALTH_PATH) { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n'); return; }
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SANE_ID.test(given) ? given : localRequestId();
    inFlight++;
    if (closing) res.setHeader('connection', 'close');
    const abort = new AbortController();
    res.once('close', () => {
      abort.abort(new Error('the client went away'));
      if (--inFlight === 0) idle?.();
    });
    const timer = setTimeout(() => {
      log('error', 'handler timed out', { request_id: requestId, method: req.method, path: req.url, timeout_ms: o.timeoutMs });
      abort.abort(new Error(`the handler did not finish within ${o.timeoutMs} ms`));
      fail(res, 504, requestId, `Gateway Timeout: the function did not answer within ${o.timeoutMs} ms`);
    }, o.timeoutMs);
    const ctx: FunctionContext = {
      requestId,
      waitUntil(p) {
        const tracked = Promise.resolve(p).catch((err: unknown) => log('error', 'waitUntil promise rejected', { request_id: requestId, error: String(err), stack: (err as Error)?.stack }));
        pending.add(tracked);
        void tracked.finally(() => pending.delete(tracked));
      },
    };
    (async () => {
      const response = await handler(toRequest(req, abort.signal), env, ctx);
      if (!(response instanceof Response)) throw new TypeError(`the handler returned ${response === null ? 'null' : typeof response}, not a Response`);
      if (abort.signal.aborted) return;
      await writeResponse(res, response);
    })().catch((err: unknown) => {
      if (abort.signal.aborted) return;
      const e = err instanceof Error ? err : new Error(String(err));
      log('error', 'handler threw', { request_id: requestId, method: req.method, path: req.url, error: e.message, stack: e.stack });
      fail(res, 500, requestId, 'Internal Server Error');
    }).finally(() => clearTimeout(timer));
  });

  // A stray throw in a timer or an unawaited promise of user code is logged, never a crashed instance.
  process.on('uncaughtException', (err) => log('error', 'uncaught exception in the handler', { error: err.message, stack: err.stack }));
  process.on('unhandledRejection', (why) => log('error', 'unhandled rejection in the handler', { error: String(why), stack: (why as Error)?.stack }));
  process.once('SIGTERM', () => {
    closing = true;
    log('info', 'SIGTERM: finishing in-flight requests', { in_flight: inFlight });
    server.close();
    server.closeIdleConnections();
    const done = () => void Promise.allSettled([...pending]).then(() => process.exit(0));
    if (inFlight === 0) done(); else idle = done;
  });

  await warmUp();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  // The platform reads this line as "probe me now" (src/control: an instance's first output): say it only once a
  // request is served at once.
  log('info', 'function ready', { port: (server.address() as { port: number }).port, load_ms: Date.now() - started });
  return server;
}

/**
 * Runs, before listening, the platform code every first request needs, without user code: Request, Response and
 * Headers are lazy globals whose first access loads undici and what it requires (crypto, tls, http2, zlib...), the
 * largest part of the wrapper's start, and the first Request, Response and body read compile their paths. Done
 * after listening, a health check or the first request arriving meanwhile waited behind it anyway; done before,
 * the first passing check means ready (and on a 0.25 vCPU instance every CPU millisecond costs four). Never fatal.
 */
async function warmUp(): Promise<void> {
  try {
    const headers = new Headers();
    headers.append('accept', '*/*');
    const request = new Request('http://localhost/', { method: 'GET', headers, signal: new AbortController().signal });
    void request.headers.get('accept');
    const response = new Response('ok', { headers: { 'content-type': 'text/plain' } });
    response.headers.forEach(() => undefined);
    response.headers.getSetCookie();
    for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>) { /* drained */ }
  } catch { /* a faster first request is all this buys */ }
}

// Run as the instance's main program (the built wrapper.mjs), not when a test imports this module.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const handlerFile = process.env.PIER_FUNCTION_HANDLER || new URL('./handler.mjs', import.meta.url).pathname;
  startFunction({
    handlerFile, port: intAtLeast(process.env.PORT, 0, 8000), timeoutMs: intAtLeast(process.env.PIER_FUNCTION_TIMEOUT_MS, 1, 30_000),
  }).catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.stack) process.stderr.write(e.stack + '\n');
    // The last line is what the platform shows as the instance's (and so the deployment's) error.
    process.stderr.write(`cannot load the function handler: ${e.message.split('\n')[0]}\n`);
    process.exit(1);
  });
}
