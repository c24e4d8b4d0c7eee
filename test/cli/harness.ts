// Test harness for end-to-end CLI runs: a fake API (node:http on 127.0.0.1:0) that records every request and
// answers from a route table, plus an in-process `pier` run with captured stdout/stderr.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/command.ts';

/** One request as the fake API saw it. */
export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  body: unknown;
  authorization: string | undefined;
}

/** A reply: status (default 200) and JSON body. */
export interface Reply {
  status?: number;
  body: unknown;
}

/** Route table: "METHOD /path" → reply, or a function of the request (called each time, so it can change). */
export type Routes = Record<string, Reply | ((req: Recorded) => Reply)>;

/** A running fake API. */
export interface FakeApi {
  url: string;
  requests: Recorded[];
  routes: Routes;
  /** Requests as "METHOD /path?query" strings, for compact assertions. */
  lines(): string[];
  /** Called for each websocket connection to /v1/streams/logs/tail. */
  onTail?: (ws: WebSocket, req: IncomingMessage) => void;
  close(): Promise<void>;
}

function queryOf(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    out[key] = all.length === 1 ? all[0]! : all;
  }
  return out;
}

/** Starts a fake API on a random loopback port. Unknown routes answer 501 so a test sees what it forgot. */
export async function startFakeApi(routes: Routes): Promise<FakeApi> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const raw = Buffer.concat(chunks);
      // JSON bodies are parsed; anything else (an uploaded archive) is recorded as its size.
      let body: unknown;
      if (raw.length) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          body = { bytes: raw.length };
        }
      }
      const rec: Recorded = {
        method: req.method ?? 'GET', path: url.pathname, query: queryOf(url), body, authorization: req.headers.authorization,
      };
      requests.push(rec);
      const route = api.routes[`${rec.method} ${rec.path}`];
      const reply = typeof route === 'function' ? route(rec) : route;
      const out = reply ?? { status: 501, body: { status: 501, code: 'not_implemented', message: `fake: no route ${rec.method} ${rec.path}` } };
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body));
    });
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('Bearer') ? 'Bearer' : false) });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => api.onTail?.(ws, req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api: FakeApi = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    routes,
    lines: () =>
      requests.map((r) => {
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(r.query)) for (const item of Array.isArray(v) ? v : [v]) qs.append(k, item);
        const q = qs.toString();
        return `${r.method} ${r.path}${q ? `?${q}` : ''}`;
      }),
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}

/** The result of one in-process CLI run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one run: env (PIER_URL/PIER_TOKEN default to the fake API), stdin, clock, interrupt trigger. */
export interface RunOptions {
  env?: Record<string, string | undefined>;
  stdin?: string;
  now?: () => number;
  /** Receives a function that simulates Ctrl-C. */
  interrupt?: (fire: () => void) => void;
  readFile?: (path: string) => string;
  /** Pretend stdout and stderr are terminals (colours, live status line). */
  tty?: boolean;
  /** Sees stderr as it is written, so a fake route can react to what the user has been shown. */
  onStderr?: (text: string) => void;
}

/** Fixed "now" used by tests: ten minutes after the fixtures' created_at. */
export const NOW = Date.parse('2026-03-01T12:10:00Z');

/** Runs `pier <argv>` in-process against the fake API. */
export async function run(api: FakeApi | undefined, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const handlers = new Set<() => void>();
  opts.interrupt?.(() => {
    for (const h of [...handlers]) h();
  });
  const io: Partial<CliIO> = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
      opts.onStderr?.(t);
    },
    env: { HOME: '/nonexistent-home', ...(api ? { PIER_URL: api.url, PIER_TOKEN: 'tok-123' } : {}), ...opts.env },
    readStdin: async () => opts.stdin ?? '',
    now: opts.now ?? (() => NOW),
    pollIntervalMs: 1,
    stdoutIsTTY: opts.tty ?? false,
    stderrIsTTY: opts.tty ?? false,
    onInterrupt: (h) => {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    ...(opts.readFile ? { readFile: opts.readFile } : {}),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------- fixtures

export const APP_ID = '11111111-aaaa-4aaa-8aaa-000000000001';
export const SVC_ID = '22222222-bbbb-4bbb-8bbb-000000000002';
export const DEP_ID = '33333333-cccc-4ccc-8ccc-000000000003';
export const DEP2_ID = '44444444-dddd-4ddd-8ddd-000000000004';
export const CREATED = '2026-03-01T12:00:00Z';

/** An app fixture. */
export function app(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: APP_ID, name: 'shop', organization_id: 'org', status: 'HEALTHY', domains: [{ name: 'shop.localhost' }], messages: [], created_at: CREATED, updated_at: CREATED, ...over };
}

/** A service fixture. */
export function service(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: SVC_ID, name: 'web', app_id: APP_ID, type: 'WEB', status: 'HEALTHY', messages: [], created_at: CREATED, updated_at: CREATED,
    active_deployment_id: DEP_ID, latest_deployment_id: DEP_ID, ...over,
  };
}

/** A deployment fixture. */
export function deployment(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: DEP_ID, service_id: SVC_ID, app_id: APP_ID, status: 'HEALTHY', messages: [], version: '1', parent_id: '', created_at: CREATED,
    definition: {
      name: 'web', type: 'WEB', regions: ['was'], docker: { image: 'nginx' }, env: [{ key: 'A', value: '1', scopes: ['region:was'] }],
      ports: [{ port: 80, protocol: 'http' }], routes: [{ path: '/', port: 80 }], health_checks: [],
      instance_types: [{ type: 'nano', scopes: ['region:was'] }], scalings: [{ min: 1, max: 1, targets: [], scopes: ['region:was'] }],
    },
    ...over,
  };
}

/** Routes that resolve the app "shop" and its service "web" by listing. */
export function lookupRoutes(): Routes {
  return {
    'GET /v1/apps': { body: { apps: [app()], limit: 100, offset: 0, count: 1 } },
    'GET /v1/services': { body: { services: [service()], limit: 100, offset: 0, count: 1 } },
    [`GET /v1/apps/${APP_ID}`]: { body: { app: app() } },
    'GET /v1/pier/info': { body: { edge_url: 'http://127.0.0.1:8000' } },
  };
}
