// The exec websocket's rules against a real API with a fake backend (no runtime): frames in and out, the exit frame
// after the last output byte, stdin and resizes reaching the session, and every bound and refusal: unknown or stopped
// instance, another org's, read-only and missing tokens, a malformed first frame, no backend, too many sessions per
// organization, an idle session, an oversized frame. One audit line per session without the streams' contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { createApiServer } from '../../src/api/server.ts';
import type { ExecBackend, ExecStream } from '../../src/domain/exec.ts';
import type { Instance } from '../../src/domain/types.ts';
import { insertInstance } from '../../src/store/instances.ts';
import { insertOrganization, insertToken } from '../../src/store/organizations.ts';
import { openStore } from '../../src/store/store.ts';

interface Frame { result?: { stdout?: { data?: string }; stderr?: { data?: string }; exited?: boolean; exit_code?: number }; error?: { code: number; message: string } }

/** A scripted command: echoes stdin to stdout upper-cased, records resizes, exits with the code written as `exit N`. */
class FakeStream implements ExecStream {
  stdout = new PassThrough();
  stderr = new PassThrough();
  resizes: [number, number][] = [];
  killed = false;
  private done!: (code: number) => void;
  exit = new Promise<number>((r) => { this.done = r; });
  stdin = {
    write: (data: Buffer) => {
      const text = data.toString();
      const m = /^exit (\d+)/.exec(text);
      if (m) { this.stderr.end('bye\n'); this.stdout.end('last bytes\n', () => this.done(Number(m[1]))); return; }
      this.stdout.write(text.toUpperCase());
    },
    end: () => { this.stdout.end(() => this.done(0)); this.stderr.end(); },
  };
  async resize(cols: number, rows: number) { this.resizes.push([cols, rows]); }
  kill() { this.killed = true; this.stdout.end(); this.stderr.end(); this.done(137); }
}

async function setup(execSettings = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pier-exec-api-'));
  const store = await openStore({ dataDir: dir });
  // Instance rows stand alone here (no app, service or deployment rows behind them): the exec route reads only them.
  await store.db.run('PRAGMA foreign_keys = OFF');
  const org = await insertOrganization(store.db, 'acme');
  const other = await insertOrganization(store.db, 'other');
  await insertToken(store.db, org.id, 'admin', 'tok-acme');
  await insertToken(store.db, org.id, 'reader', 'tok-reader', { readOnly: true });
  await insertToken(store.db, other.id, 'admin', 'tok-other');
  const now = new Date().toISOString();
  const instance = (status: Instance['status']): Instance => ({
    id: randomUUID(), created_at: now, updated_at: now, organization_id: org.id, app_id: randomUUID(), service_id: randomUUID(),
    regional_deployment_id: randomUUID(), allocation_id: 'workload-1', type: 'nano', replica_index: 0, region: 'was', datacenter: '',
    hypervisor: '', status, messages: [], started_at: now, succeeded_at: null, terminated_at: null, xyz_deployment_id: randomUUID(),
  });
  const running = instance('HEALTHY');
  const stopped = instance('STOPPED');
  await insertInstance(store.db, running);
  await insertInstance(store.db, stopped);
  const streams: FakeStream[] = [];
  const opened: { instance: string; command: string[]; tty: boolean; size?: unknown }[] = [];
  let backend: ExecBackend | undefined = {
    async open(inst, opts) {
      opened.push({ instance: inst.id, ...opts });
      const s = new FakeStream();
      streams.push(s);
      return s;
    },
  };
  const logs: Record<string, unknown>[] = [];
  const audit: string[] = [];
  const api = createApiServer({ store, logger: (e) => logs.push(e), exec: () => backend, execSettings, execAudit: (l) => audit.push(l) });
  const url = (await api.listen(0)).replace(/^http/, 'ws') + '/v1/streams/instances/exec';
  return {
    url, running, stopped, streams, opened, logs, audit,
    setBackend(b: ExecBackend | undefined) { backend = b; },
    /** Opens a session, sends frames (functions wait for a condition first), collects what comes back until close. */
    session(token: string | undefined, frames: (unknown | (() => Promise<void>))[]) {
      const ws = new WebSocket(url, token ? ['Bearer', token] : []);
      const got: Frame[] = [];
      return new Promise<{ frames: Frame[]; status?: number; closeCode?: number }>((resolve, reject) => {
        const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no close: ${JSON.stringify(got)}`)); }, 10_000);
        ws.on('unexpected-response', (_q, res) => { clearTimeout(timer); resolve({ frames: got, status: res.statusCode }); ws.terminate(); });
        ws.on('open', async () => {
          for (const f of frames) {
            if (typeof f === 'function') await (f as () => Promise<void>)();
            else if (ws.readyState === WebSocket.OPEN) ws.send(typeof f === 'string' ? f : JSON.stringify(f));
          }
        });
        ws.on('message', (d) => got.push(JSON.parse(String(d)) as Frame));
        ws.on('close', (code) => { clearTimeout(timer); resolve({ frames: got, closeCode: code }); });
        ws.on('error', () => undefined);
      });
    },
    async close() { await api.close(); await store.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const text = (frames: Frame[], stream: 'stdout' | 'stderr') => frames.map((f) => f.result?.[stream]?.data ? Buffer.from(f.result[stream]!.data!, 'base64').toString() : '').join('');
const until = async (cond: () => boolean) => { for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10)); };

test('exec websocket: frames both ways, exit frame last, stdin close, resize, audit line', async (t) => {
  const h = await setup();
  t.after(() => h.close());
  const r = await h.session('tok-acme', [
    { id: h.running.id, idType: 'INSTANCE_ID', body: { command: ['sh', '-c', 'secret-arg'], disableTty: false, tty_size: { width: 100, height: 30 } } },
    { body: { stdin: { data: b64('hello ') } } },
    { body: { tty_size: { width: 120, height: 40 } } },
    async () => until(() => h.streams.length === 1),
    { body: { stdin: { data: b64('exit 4') } } },
  ]);
  assert.deepEqual(h.opened, [{ instance: h.running.id, command: ['sh', '-c', 'secret-arg'], tty: true, size: { cols: 100, rows: 30 } }]);
  assert.equal(text(r.frames, 'stdout'), 'HELLO last bytes\n');
  assert.equal(text(r.frames, 'stderr'), 'bye\n');
  const last = r.frames.at(-1)!;
  assert.deepEqual(last, { result: { exited: true, exit_code: 4 } });
  assert.ok(r.frames.slice(0, -1).every((f) => f.result?.exited === false), 'every output frame says exited: false (the Go client dereferences it)');
  assert.equal(r.closeCode, 1000);
  assert.deepEqual(h.streams[0]!.resizes, [[120, 40]]);
  assert.equal(h.audit.length, 1, h.audit.join('\n'));
  assert.match(h.audit[0]!, new RegExp(`^pier: exec by token "admin" \\([0-9a-f-]{36}, organization [0-9a-f-]{36}\\) in instance ${h.running.id}: sh \\(tty\\) exited 4 after \\d+\\.\\d s$`));
  assert.doesNotMatch(h.audit.join('\n') + JSON.stringify(h.logs), /secret-arg|hello|HELLO|bye/, 'the audit line holds argv[0] only, never arguments or streams');

  // stdin close ends the command's input (EOF).
  const eof = await h.session('tok-acme', [
    { id: h.running.id, body: { command: ['cat'], disableTty: true } },
    { body: { stdin: { data: b64('abc') } } },
    { body: { stdin: { close: true } } },
  ]);
  assert.equal(text(eof.frames, 'stdout'), 'ABC');
  assert.deepEqual(eof.frames.at(-1), { result: { exited: true, exit_code: 0 } });
  assert.equal(h.opened[1]!.tty, false);
});

test('exec websocket: refusals are error frames (or HTTP before the upgrade) naming the cause', async (t) => {
  const h = await setup();
  t.after(() => h.close());
  const first = (id: string, extra = {}) => ({ id, idType: 'INSTANCE_ID', body: { command: ['sh'], ...extra } });
  const errorOf = async (token: string | undefined, frames: unknown[]) => {
    const r = await h.session(token, frames);
    return r.status ?? r.frames[0]?.error;
  };
  assert.equal(await errorOf(undefined, [first(h.running.id)]), 401);
  assert.equal(await errorOf('wrong', [first(h.running.id)]), 401);
  assert.equal(await errorOf('tok-reader', [first(h.running.id)]), 403);
  assert.deepEqual(await errorOf('tok-other', [first(h.running.id)]), { code: 5, message: `instance not found: ${h.running.id}`, details: [] });
  const unknownId = randomUUID();
  assert.deepEqual(await errorOf('tok-acme', [first(unknownId)]), { code: 5, message: `instance not found: ${unknownId}`, details: [] });
  const stopped = await errorOf('tok-acme', [first(h.stopped.id)]) as { code: number; message: string };
  assert.equal(stopped.code, 9);
  assert.match(stopped.message, /is not running \(status STOPPED\)/);
  const noCommand = await errorOf('tok-acme', [{ id: h.running.id, body: {} }]) as { code: number; message: string };
  assert.equal(noCommand.code, 3);
  assert.match(noCommand.message, /body\.command must be a non-empty array/);
  const notJson = await errorOf('tok-acme', ['{nope']) as { code: number; message: string };
  assert.equal(notJson.code, 3);
  const badType = await errorOf('tok-acme', [{ id: h.running.id, idType: 'APP_ID', body: { command: ['sh'] } }]) as { code: number; message: string };
  assert.match(badType.message, /idType must be INSTANCE_ID or SERVICE_ID/);
  const noService = await errorOf('tok-acme', [{ id: randomUUID(), idType: 'SERVICE_ID', body: { command: ['sh'] } }]) as { code: number; message: string };
  assert.equal(noService.code, 5);
  assert.match(noService.message, /service not found/);
  h.setBackend(undefined);
  const noBackend = await errorOf('tok-acme', [first(h.running.id)]) as { code: number; message: string };
  assert.equal(noBackend.code, 12);
  assert.match(noBackend.message, /without a runtime/);
  h.setBackend({ open: async () => { throw Object.assign(new Error('exec is not implemented by the swarm runtime'), { code: 'unavailable' }); } });
  const unavailable = await errorOf('tok-acme', [first(h.running.id)]) as { code: number; message: string };
  assert.equal(unavailable.code, 14);
  assert.match(unavailable.message, /not implemented by the swarm runtime/);
  assert.equal(h.opened.length, 0, 'nothing refused may open a session');
  // Refusals after the handshake are audited too, with the reason.
  assert.ok(h.audit.some((l) => /^pier: exec by token "admin" .* refused: instance not found: /.test(l)), h.audit.join('\n'));
});

test('exec websocket: bounds (sessions per organization, idle timeout, frame size) and the client closing kills the command', async (t) => {
  const h = await setup({ maxSessionsPerOrg: 1, idleTimeoutMs: 300, maxFrameBytes: 4096 });
  t.after(() => h.close());
  const first = { id: h.running.id, body: { command: ['sh'], disableTty: true } };
  // One session held open makes a second one of the same org fail.
  const busy = h.session('tok-acme', [first, async () => until(() => h.streams.length === 1),
    { body: { stdin: { data: b64('a') } } }, async () => new Promise((r) => setTimeout(r, 100)),
    async () => {
      const second = await h.session('tok-acme', [first]);
      assert.equal(second.frames[0]?.error?.code, 8);
      assert.match(second.frames[0]!.error!.message, /at most 1 at once per organization \(PIER_EXEC_MAX_SESSIONS\)/);
    },
  ]);
  // The held session then goes idle and is closed with DEADLINE_EXCEEDED, its command killed.
  const r = await busy;
  assert.equal(r.frames.at(-1)?.error?.code, 4);
  assert.match(r.frames.at(-1)!.error!.message, /idle/);
  assert.equal(h.streams[0]!.killed, true);
  // A frame over the limit closes the connection (1009) and kills the command.
  const big = await h.session('tok-acme', [first, async () => until(() => h.streams.length === 2), { body: { stdin: { data: 'A'.repeat(8192) } } }]);
  assert.equal(big.closeCode, 1009);
  await until(() => h.streams[1]!.killed);
  assert.equal(h.streams[1]!.killed, true);
  // The slots were given back: a new session opens.
  const again = await h.session('tok-acme', [first, async () => until(() => h.streams.length === 3), { body: { stdin: { close: true } } }]);
  assert.deepEqual(again.frames.at(-1), { result: { exited: true, exit_code: 0 } });
  // The client going away (Ctrl-C in koyeb's CLI sends a close) kills the command.
  const url = `${h.url}`;
  const ws = new WebSocket(url, ['Bearer', 'tok-acme']);
  await new Promise((r) => ws.on('open', r));
  ws.send(JSON.stringify(first));
  await until(() => h.streams.length === 4);
  ws.close();
  await until(() => h.streams[3]!.killed);
  assert.equal(h.streams[3]!.killed, true);
});
