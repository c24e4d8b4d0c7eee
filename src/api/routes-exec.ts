// GET /v1/streams/instances/exec over a websocket: a command in a running instance (`koyeb instances exec`,
// `koyeb services exec`, `koyeb instances cp`, `pier instances exec`). Koyeb's protocol (ExecCommand in the spec):
// every frame is JSON. In: `{id, idType: INSTANCE_ID|SERVICE_ID, body: {command, disableTty}}` first, then
// `{body: {stdin: {data: <base64>} | {close: true}}}` and `{body: {tty_size: {width, height}}}`. Out:
// `{result: {stdout|stderr: {data: <base64>}, exited: false}}`, finally `{result: {exited: true, exit_code}}` and a
// normal close; a failure is `{error: {code: <gRPC>, message}}`. Auth: the org's token (`Sec-WebSocket-Protocol:
// Bearer, <token>` or Authorization); another org's instance is "not found"; read-only tokens cannot exec.
// Bounded: idle timeout, max frame size, max concurrent sessions per organization (config: PIER_EXEC_*). Audit: one
// operator log line per session (token, instance, argv[0], exit code; auditText), never arguments or the streams.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PierError } from '../domain/errors.ts';
import type { ExecBackend, ExecStream } from '../domain/exec.ts';
import type { Instance } from '../domain/types.ts';
import { getInstance, listInstances } from '../store/instances.ts';
import { getService } from '../store/services.ts';
import type { Store } from '../store/store.ts';
import { assertMayWrite, authenticateCaller, type Caller } from './auth.ts';
import { errorReply } from './error-body.ts';
import type { Route } from './router.ts';
import type { ExecSettings } from '../config.ts';

export const EXEC_PATH = '/v1/streams/instances/exec';

/** Bounds of exec sessions when config sets none (PIER_EXEC_*; config.ts's ExecSettings). */
export const DEFAULT_EXEC_SETTINGS: Required<ExecSettings> = { idleTimeoutMs: 15 * 60_000, maxFrameBytes: 1 << 20, maxSessionsPerOrg: 8 };

/** Instances an exec may enter: the runtime has them running. */
const RUNNING = new Set(['STARTING', 'HEALTHY', 'UNHEALTHY']);

// google.rpc.Code values the CLI prints as "server failure: <message> (code N)".
const RPC = { invalid: 3, deadline: 4, notFound: 5, denied: 7, exhausted: 8, failedPrecondition: 9, internal: 13, unimplemented: 12, unavailable: 14 };

class ExecRefusal extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

/** The route-table entry (OpenAPI, and a clear 400 for a plain GET); the websocket itself is served on upgrade. */
export function execRoutes(): Route[] {
  return [{
    method: 'GET', path: EXEC_PATH, operationId: 'ExecCommand', tag: 'Instances',
    handler: async () => {
      throw new PierError('invalid_argument', `${EXEC_PATH} is a websocket: connect with Upgrade: websocket (koyeb instances exec, pier instances exec)`);
    },
  }];
}

function rejectUpgrade(socket: Duplex, err: PierError, path: string): void {
  const reply = errorReply(err, path);
  const body = JSON.stringify(reply.body);
  socket.end(`HTTP/1.1 ${reply.status} ${reply.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

interface FirstFrame { id?: string; idType?: string; body?: { command?: unknown; disableTty?: unknown; tty_size?: { width?: number; height?: number } } }
/** How long the exit frame trails the last output frame (see start()): the clients' last writes land first. */
const EXIT_FRAME_TRAIL_MS = 150;

interface LaterFrame { body?: { stdin?: { data?: string; close?: boolean }; tty_size?: { width?: number; height?: number } } }

/** Which instance an exec runs in: the instance id, or a running instance of the service. Other orgs' are not found. */
async function resolveInstance(store: Store, organizationId: string, id: string, idType: string | undefined): Promise<Instance> {
  if (!id) throw new ExecRefusal(RPC.invalid, 'the first frame must name the instance: {"id": "<instance id>", "body": {"command": [...]}}');
  if (idType === 'SERVICE_ID') {
    const service = await getService(store.db, id);
    if (!service || service.organization_id !== organizationId) throw new ExecRefusal(RPC.notFound, `service not found: ${id}`);
    const { items } = await listInstances(store.db, { organizationId, serviceId: id, statuses: ['HEALTHY', 'STARTING', 'UNHEALTHY'] }, { limit: 100, offset: 0 });
    const pick = items.find((i) => i.status === 'HEALTHY') ?? items[0];
    if (!pick) throw new ExecRefusal(RPC.failedPrecondition, `service ${service.name} has no running instance to exec in`);
    return pick;
  }
  if (idType && idType !== 'INSTANCE_ID' && idType !== 'INVALID') throw new ExecRefusal(RPC.invalid, `idType must be INSTANCE_ID or SERVICE_ID, not ${idType}`);
  const inst = await getInstance(store.db, id);
  if (!inst || inst.organization_id !== organizationId) throw new ExecRefusal(RPC.notFound, `instance not found: ${id}`);
  if (!RUNNING.has(inst.status)) throw new ExecRefusal(RPC.failedPrecondition, `instance ${id} is not running (status ${inst.status})`);
  return inst;
}

function commandOf(body: FirstFrame['body']): string[] {
  const c = body?.command;
  if (!Array.isArray(c) || c.length === 0 || !c.every((a) => typeof a === 'string') || c[0] === '') {
    throw new ExecRefusal(RPC.invalid, 'body.command must be a non-empty array of strings (the argv to run), e.g. ["sh"]');
  }
  return c as string[];
}

/** The operator's line for one session: who, where, argv[0], how it ended; never arguments or stream contents. */
export function auditText(e: Record<string, unknown>): string {
  const ended = e.exit_code !== undefined ? `exited ${e.exit_code}` : `refused: ${String(e.error ?? 'closed before it started')}`;
  return `pier: exec by token "${String(e.token_name)}" (${String(e.token_id)}, organization ${String(e.organization_id)}) `
    + `in instance ${String(e.instance_id ?? '-')}: ${String(e.command ?? '-')}${e.tty ? ' (tty)' : ''} ${ended} after ${(Number(e.duration_ms) / 1000).toFixed(1)} s`;
}

/** Serves the exec websocket on the API server. `backend()` is the platform's (absent: API-only processes, tests). */
export function attachExec(
  server: http.Server, store: Store, logger: (entry: Record<string, unknown>) => void,
  backend: () => ExecBackend | undefined, configured: ExecSettings = {}, auditLine?: (line: string) => void,
): { close(): void; handles(path: string): boolean } {
  const settings = { ...DEFAULT_EXEC_SETTINGS, ...configured };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxFrameBytes,
    handleProtocols: (protocols) => (protocols.has('Bearer') ? 'Bearer' : protocols.has('bearer') ? 'bearer' : false),
  });
  const perOrg = new Map<string, number>();
  const live = new Set<ExecStream>();

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://pier.invalid');
    if (url.pathname !== EXEC_PATH) return;
    void (async () => {
      const caller = await authenticateCaller(store, req);
      assertMayWrite(caller, 'POST');
      wss.handleUpgrade(req, socket, head, (ws) => { void session(ws, caller, url.searchParams); });
    })().catch((err: unknown) => {
      if (err instanceof PierError) rejectUpgrade(socket, err, url.pathname);
      else {
        logger({ msg: 'exec upgrade failed', error: err instanceof Error ? err.message : String(err) });
        rejectUpgrade(socket, new PierError('api_error', 'Internal error'), url.pathname);
      }
    });
  });

  async function session(ws: WebSocket, caller: Caller, query: URLSearchParams): Promise<void> {
    const started = Date.now();
    const audit: Record<string, unknown> = { level: 'info', msg: 'exec session', organization_id: caller.organizationId, token_id: caller.tokenId, token_name: caller.tokenName };
    let stream: ExecStream | undefined;
    let counted = false;
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    const queued: LaterFrame[] = [];
    const send = (frame: unknown, cb?: () => void) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame), cb);
      else cb?.();
    };
    const finish = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      clearTimeout(idle);
      stream?.kill();
      if (counted) perOrg.set(caller.organizationId, (perOrg.get(caller.organizationId) ?? 1) - 1);
      if (ws.readyState === ws.OPEN) ws.close(code, reason);
    };
    const fail = (rpc: number, message: string) => {
      audit.error = message;
      send({ error: { code: rpc, message, details: [] } });
      finish(1000, 'error');
    };
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => fail(RPC.deadline, `exec session idle for ${Math.round(settings.idleTimeoutMs / 1000)} s: closed (PIER_EXEC_IDLE_TIMEOUT)`), settings.idleTimeoutMs);
    };
    const apply = (f: LaterFrame) => {
      const b = f.body ?? {};
      if (b.tty_size && Number(b.tty_size.width) > 0 && Number(b.tty_size.height) > 0) void stream!.resize(Number(b.tty_size.width), Number(b.tty_size.height));
      if (typeof b.stdin?.data === 'string' && b.stdin.data.length) stream!.stdin.write(Buffer.from(b.stdin.data, 'base64'));
      if (b.stdin?.close === true) stream!.stdin.end();
    };
    let first = true;
    let lastOutputAt = 0;
    touch();
    ws.on('close', () => finish(1000, 'closed'));
    ws.on('error', () => finish(1011, 'error'));
    ws.on('message', (raw, isBinary) => {
      touch();
      let frame: FirstFrame & LaterFrame;
      try {
        frame = JSON.parse(isBinary ? Buffer.from(raw as Buffer).toString('utf8') : raw.toString()) as FirstFrame & LaterFrame;
        if (!frame || typeof frame !== 'object') throw new Error('not an object');
      } catch {
        fail(RPC.invalid, 'every frame must be a JSON object (ExecCommandRequest)');
        return;
      }
      if (first) {
        first = false;
        void start(frame);
        return;
      }
      if (stream) apply(frame);
      else queued.push(frame);
    });

    async function start(frame: FirstFrame): Promise<void> {
      try {
        const command = commandOf(frame.body);
        const tty = frame.body?.disableTty !== true;
        audit.command = command[0];
        audit.tty = tty;
        const inst = await resolveInstance(store, caller.organizationId, String(frame.id ?? query.get('id') ?? ''), frame.idType ?? query.get('id_type') ?? undefined);
        audit.instance_id = inst.id;
        const b = backend();
        if (!b) throw new ExecRefusal(RPC.unimplemented, 'exec is not available on this Pier process: it serves the API without a runtime');
        const n = perOrg.get(caller.organizationId) ?? 0;
        if (n >= settings.maxSessionsPerOrg) throw new ExecRefusal(RPC.exhausted, `too many exec sessions: at most ${settings.maxSessionsPerOrg} at once per organization (PIER_EXEC_MAX_SESSIONS)`);
        perOrg.set(caller.organizationId, n + 1);
        counted = true;
        const size = frame.body?.tty_size;
        const s = await b.open(inst, { command, tty, ...(size && Number(size.width) > 0 && Number(size.height) > 0 ? { size: { cols: Number(size.width), rows: Number(size.height) } } : {}) });
        if (closed) { s.kill(); return; }
        stream = s;
        live.add(s);
        const drained = Promise.all([pump(s.stdout, 'stdout'), pump(s.stderr, 'stderr')]);
        for (const f of queued.splice(0)) apply(f);
        const code = await s.exit;
        await drained;
        // Koyeb's CLI returns (and exits) as soon as it reads the exit frame, while its `instances cp` still writes the
        // last bytes it read from stdout to the local file in another goroutine: an exit frame right behind the last
        // output cut 'cp' files short (196,096 of 200,000 bytes, one run in two). So it trails the last output by a
        // moment; a command whose output ended earlier is not delayed.
        const trail = lastOutputAt + EXIT_FRAME_TRAIL_MS - Date.now();
        if (trail > 0) await new Promise((r) => setTimeout(r, trail));
        live.delete(s);
        audit.exit_code = code;
        send({ result: { exited: true, exit_code: code } }, () => finish(1000, 'exited'));
      } catch (err) {
        if (err instanceof ExecRefusal) fail(err.code, err.message);
        else {
          const e = err as { code?: string; message?: string };
          // Runtime errors (not_found: the instance just stopped; unavailable: the driver cannot exec) keep their words.
          const rpc = e.code === 'not_found' ? RPC.notFound : e.code === 'unavailable' ? RPC.unavailable : e.code === 'invalid_spec' ? RPC.invalid : RPC.internal;
          fail(rpc, e.message ?? String(err));
        }
      } finally {
        if (stream) live.delete(stream);
        const entry = { ...audit, duration_ms: Date.now() - started };
        if (auditLine) auditLine(auditText(entry));
        else logger(entry);
      }
    }

    /** Forwards one output stream; resolves once it ended (so the exit frame comes after the last byte). */
    function pump(from: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): Promise<void> {
      const ended = new Promise<void>((resolve) => {
        from.once('end', resolve);
        from.once('close', resolve);
        from.once('error', () => resolve());
      });
      from.on('data', (chunk: Buffer) => {
        touch();
        send({ result: { [name]: { data: Buffer.from(chunk).toString('base64') }, exited: false } });
        lastOutputAt = Date.now();
        // Backpressure: a slow client pauses the command's output instead of growing this process's memory.
        if (ws.bufferedAmount > 1 << 20) {
          from.pause();
          const resume = () => (ws.bufferedAmount > 1 << 18 && ws.readyState === ws.OPEN ? setTimeout(resume, 20) : from.resume());
          setTimeout(resume, 20);
        }
      });
      return ended;
    }
  }

  return {
    handles: (path) => path === EXEC_PATH,
    close() {
      for (const s of live) s.kill();
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
