// The HTTP API server (node:http, no framework): auth, routing, JSON errors in Koyeb's shape, 501 for the rest of
// /v1, /health, /metrics, the logs tail websocket, and the web console for every other path.
import type { ProxyPortRange } from '../store/proxy-ports.ts';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ExecSettings, GitLocalAccess } from '../config.ts';
import { PierError } from '../domain/errors.ts';
import { handleConsole } from '../console/serve.ts';
import { EdgeRouteFeed } from '../edge/route-feed.ts';
import type { Store } from '../store/store.ts';
import { assertMayWrite, authenticate, authenticateCaller } from './auth.ts';
import { RateLimiter, RateLimitError, type RateLimitOptions } from './rate-limit.ts';
import { Query, readJson, sendJson } from './http.ts';
import { errorReply, errorReplyFor, type ErrorReply } from './error-body.ts';
import { ApiMetrics } from './metrics.ts';
import { Router, type Route } from './router.ts';
import { apiRoutes } from './routes.ts';
import { buildOpenApi } from './openapi.ts';
import { attachLogTail } from './routes-logs-tail.ts';
import { attachExec } from './routes-exec.ts';
import type { ExecBackend } from '../domain/exec.ts';
import { connectionBudget } from '../edge/fd-limit.ts';
import { SELF_AUTHENTICATED_OPERATIONS } from './routes-push.ts';
import { handleGitRemote, isGitRemotePath } from './git-remote.ts';

/** Where errors with context go; the default writes one JSON line to stderr. */
export type ApiLogger = (entry: Record<string, unknown>) => void;

/** Options of createApiServer. */
export interface ApiServerOptions {
  store: Store;
  /** Called after every successful write (e.g. the controller's kick()). */
  onWrite?: () => void;
  logger?: ApiLogger;
  /** Base domain of app hosts (`<app>-<org>.<domain>`); `localhost` by default. */
  domain?: string;
  /** Extra gauges added to /metrics (e.g. reconciler counts). */
  metricsExtra?: () => Record<string, number>;
  /** More Prometheus text appended to /metrics (e.g. the edge's traffic counters). */
  metricsText?: () => string;
  /** Facts about the running platform for /v1/pier/info (e.g. `edge_url`, `runtime`). */
  info?: () => Record<string, unknown>;
  /** The route table for remote edges (the composition root shares it with the route publisher); empty if not given. */
  routeFeed?: EdgeRouteFeed;
  /** Per-token request budget (token bucket); defaults to DEFAULT_RATE_LIMIT, `ratePerSecond: 0` disables it. */
  rateLimit?: RateLimitOptions;
  /** Who may build from a repository on the host's disk (config's gitAllowLocal); absent = nobody. */
  gitAllowLocal?: GitLocalAccess;
  /** The public ports the TCP proxy gives out (config's tcpProxyPorts); absent = the TCP proxy is off. */
  tcpProxyPorts?: ProxyPortRange;
  /** Runs `koyeb instances exec` commands (the platform sets it once its runtime exists); absent = exec unavailable. */
  exec?: () => ExecBackend | undefined;
  /** Bounds of exec sessions (config's PIER_EXEC_*); absent = DEFAULT_EXEC_SETTINGS. */
  execSettings?: ExecSettings;
  /** Where the one audit line per exec session goes (the operator's log); absent = `logger` as a JSON entry. */
  execAudit?: (line: string) => void;
  /**
   * Client connections held at once; past it a new one is closed before any byte (default: a quarter of the
   * process's open-file limit, src/edge/fd-limit.ts): the API shares its process with the control plane.
   */
  maxConnections?: number;
}

/** A running (or ready to run) API server. */
export interface ApiServer {
  server: http.Server;
  routes: Route[];
  metrics: ApiMetrics;
  /** Starts listening; resolves with the base URL (http://host:port). */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const defaultLogger: ApiLogger = (entry) => process.stderr.write(JSON.stringify({ level: 'error', ...entry }) + '\n');

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
}

/** Sends an error reply with its reason phrase (koyeb-cli shows the status line for google.rpc.Status bodies). */
function sendError(res: http.ServerResponse, reply: ErrorReply): void {
  res.statusMessage = reply.reason;
  sendJson(res, reply.status, reply.body);
}

/** Builds the API server over a store. */
export function createApiServer(opts: ApiServerOptions): ApiServer {
  const { store } = opts;
  const routeFeed = opts.routeFeed ?? new EdgeRouteFeed();
  const logger = opts.logger ?? defaultLogger;
  const onWrite = opts.onWrite ?? (() => {});
  const metrics = new ApiMetrics();
  const routes = apiRoutes();
  const router = new Router(routes);
  const limiter = new RateLimiter(opts.rateLimit);
  let openapi: unknown;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, setRoute: (r: string) => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://pier.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/health' && (method === 'GET' || method === 'HEAD')) {
      setRoute('/health');
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/metrics' && method === 'GET') {
      setRoute('/metrics');
      // Loopback scrapes need no token (a local Prometheus); anything else must authenticate.
      if (!isLoopback(req.socket.remoteAddress)) await authenticate(store, req);
      const text = (await metrics.render(opts.metricsExtra?.() ?? {})) + (opts.metricsText?.() ?? '');
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(text);
      return;
    }
    if (path === '/v1/openapi.json' && method === 'GET') {
      setRoute('/v1/openapi.json');
      openapi ??= buildOpenApi(routes);
      sendJson(res, 200, openapi);
      return;
    }
    if (isGitRemotePath(path)) {
      setRoute('/git');
      await handleGitRemote(store, req, res, {
        domain: opts.domain ?? 'localhost', onWrite, edgeUrl: () => opts.info?.().edge_url as string | undefined,
        logError: (msg, err) => logger({ msg, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      });
      return;
    }
    if (!path.startsWith('/v1/') && path !== '/v1') {
      setRoute('console');
      if (handleConsole(req, res)) return;
      throw new PierError('unknown_resource', `Not found: ${path}`);
    }
    const matched = router.match(method, path);
    // Push webhooks and signed upload URLs carry their own credential (checked by the handler), not a bearer token.
    const selfAuth = matched !== undefined && SELF_AUTHENTICATED_OPERATIONS.has(matched.route.operationId);
    const caller = selfAuth ? undefined : await authenticateCaller(store, req);
    const organizationId = caller?.organizationId ?? '';
    if (caller) limiter.take(caller.tokenId);
    if (!matched) throw new PierError('not_implemented', `${method} ${path} is not implemented by Pier`);
    setRoute(matched.route.path);
    if (caller && !matched.route.reads) assertMayWrite(caller, method);
    let bodyPromise: Promise<unknown> | undefined;
    const result = await matched.route.handler({
      req, res, params: matched.params, query: new Query(url.searchParams), store, organizationId, onWrite, domain: opts.domain ?? 'localhost',
      actor: caller ? { id: caller.tokenId, name: caller.tokenName, type: 'user' } : undefined,
      info: opts.info ?? (() => ({})), routeFeed, gitAllowLocal: opts.gitAllowLocal, tcpProxyPorts: opts.tcpProxyPorts,
      body: () => (bodyPromise ??= readJson(req)),
    });
    if (result !== undefined && !res.headersSent) sendJson(res, 200, result);
  }

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    let route = 'unmatched';
    res.once('finish', () => {
      metrics.observe(req.method ?? 'GET', route, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    });
    handle(req, res, (r) => { route = r; })
      .catch((err: unknown) => {
        const path = (req.url ?? '/').split('?')[0]!;
        if (err instanceof PierError) {
          if (err instanceof RateLimitError && !res.headersSent) res.setHeader('retry-after', String(err.retryAfter));
          // The store is unreachable (PostgreSQL down): a retryable 503; the outage is logged once by the store.
          if (err.code === 'unavailable' && !res.headersSent) res.setHeader('retry-after', String((err as { retryAfter?: number }).retryAfter ?? 2));
          if (!res.headersSent) sendError(res, errorReply(err, path));
          return;
        }
        const requestId = randomUUID();
        // Context only: method and path template-free URL without query (query strings may carry tokens).
        logger({ msg: 'unhandled API error', request_id: requestId, method: req.method, path: (req.url ?? '').split('?')[0], error: err instanceof Error ? err.stack ?? err.message : String(err) });
        if (!res.headersSent) {
          sendError(res, errorReplyFor('api_error', `Internal error (request id ${requestId})`, [], path));
        } else {
          res.destroy();
        }
      });
  });
  // Keep-alive sockets would hold close() open; clients reconnect cheaply on loopback.
  server.keepAliveTimeout = 5000;
  server.maxConnections = opts.maxConnections ?? connectionBudget();
  // Past the cap Node closes a new connection before any byte and says so: counted in /metrics.
  server.on('drop', () => metrics.connectionDropped());
  const tail = attachLogTail(server, store, logger);
  const exec = attachExec(server, store, logger, opts.exec ?? (() => undefined), opts.execSettings, opts.execAudit);

  return {
    server,
    routes,
    metrics,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve(`http://${h}:${a.port}`);
        });
      });
    },
    async close() {
      tail.close();
      exec.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
