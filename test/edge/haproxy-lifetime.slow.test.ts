// HAProxy never outlives the Pier that started it (src/edge/haproxy/process.ts): it holds the public address, and
// Linux lets a second HAProxy bind the same port beside it, so a leftover would take a share of a restarted Pier's
// connections and answer them from a stale table with a dead Node edge behind it. (1) A Pier killed with SIGKILL
// takes its HAProxy master and worker with it, also after a reload (the master re-executes itself). (2) A leftover
// HAProxy of the same edge directory (a Pier without setpriv, or an older one) is stopped by the next start, which
// then alone answers on the port. Skipped, with the reason, when haproxy is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHaproxyEdge } from '../../src/edge/haproxy/edge.ts';
import { pidFileOf } from '../../src/edge/haproxy/process.ts';
import { app, call, route, startUpstream, up } from '../../src/edge/test-helpers.ts';
import { until } from '../support/until.ts';
import { SOCKET_PATH_MAX, socketPath } from '../../src/socket-path.ts';

const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'haproxy is not installed (apt-get install haproxy)';

const running = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const refused = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

test('a Pier killed with SIGKILL takes its HAProxy (master and worker) with it, also after a reload', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-haproxy-life-'));
  const upstream = await startUpstream('u');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'haproxy-child.ts'), dir, String(upstream.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`the child edge did not start within 30 s: ${err}`)), 30_000);
      child.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) { clearTimeout(t); resolve(out.split('\n')[0]!); } });
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`the child edge exited with ${code}: ${err}`)); });
    });
    const started = JSON.parse(line) as { url: string; masterPid: number; reloads: number };
    assert.ok(started.reloads >= 1, `the master re-executed itself for a reload before the kill (reloads ${started.reloads})`);
    const port = Number(new URL(started.url).port);
    assert.equal((await call(started.url, 'child-acme.pier.test', '/x')).body, 'u /x', 'the child edge serves through HAProxy');
    const workers = childrenOf(started.masterPid);
    assert.ok(workers.length >= 1, `the master ${started.masterPid} has a worker`);
    child.kill('SIGKILL');
    await until('HAProxy master and worker gone after the kill -9 of their Pier', async () => !running(started.masterPid) && workers.every((w) => !running(w)), 10_000, 20);
    assert.ok(await refused(port), `nothing answers on the public port ${port} any more`);
  } finally {
    child.kill('SIGKILL');
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a leftover HAProxy of the same edge directory is stopped by the next start, which alone answers on the port', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-haproxy-life-'));
  const old = await startUpstream('old');
  const fresh = await startUpstream('new');
  let leftover: number | undefined;
  try {
    // An edge whose config stays in the directory; then a HAProxy on that config that no Pier watches, as one an
    // earlier Pier would leave: it binds the port again and writes its pid file.
    const first = await createHaproxyEdge({ addr: '127.0.0.1:0', domain: 'pier.test', dir });
    first.setRoutes([app('shop', [route('/', [up('o1', old.port)])])]);
    await first.settled();
    const port = Number(new URL(first.url).port);
    await first.close();
    const cfg = join(dir, 'haproxy.cfg');
    const stray = spawn('haproxy', ['-W', '-S', `${join(dir, 'master.sock')},mode,600`, '-p', pidFileOf(cfg), '-f', cfg], { stdio: 'ignore', detached: true });
    stray.unref();
    leftover = stray.pid!;
    await until('the leftover serves the old table', async () => (await call(`http://127.0.0.1:${port}`, 'shop-acme.pier.test', '/').catch(() => ({ body: '' }))).body === 'old /', 10_000, 50);

    const errors: string[] = [];
    const second = await createHaproxyEdge({ addr: `127.0.0.1:${port}`, domain: 'pier.test', dir, onError: (m) => errors.push(m) });
    try {
      second.setRoutes([app('shop', [route('/', [up('n1', fresh.port)])])]);
      await second.settled();
      assert.ok(!running(leftover), `the leftover master ${leftover} was stopped`);
      assert.deepEqual(errors, [`stopped a HAProxy (master pid ${leftover}) an earlier Pier left running on ${dir}: it held the public address beside this one`]);
      // Fresh connections spread over every listener of the port: each of 30 is answered by the new table.
      const bodies: string[] = [];
      for (let i = 0; i < 30; i++) bodies.push((await call(second.url, 'shop-acme.pier.test', '/')).body);
      assert.deepEqual([...new Set(bodies)], ['new /'], `every answer from the new edge: ${bodies.join(', ')}`);
    } finally {
      await second.close();
    }
  } finally {
    if (leftover !== undefined && running(leftover)) process.kill(leftover, 'SIGKILL');
    await old.close();
    await fresh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an edge directory too deep for a unix socket path still starts, serves and reloads; close() removes its short links', { skip, timeout: 60_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'pier-haproxy-deep-'));
  const dir = join(base, 'd'.repeat(90), 'edge-haproxy');
  const one = await startUpstream('one');
  const two = await startUpstream('two');
  try {
    assert.ok(Buffer.byteLength(join(dir, 'master.sock')) > SOCKET_PATH_MAX, 'HAProxy could not bind its sockets in the directory itself');
    const edge = await createHaproxyEdge({ addr: '127.0.0.1:0', domain: 'pier.test', dir });
    const links = ['admin.sock', 'master.sock'].map((n) => join(socketPath(dir, n), '..'));
    try {
      for (const link of links) assert.equal(readlinkSync(link), dir);
      edge.setRoutes([app('shop', [route('/', [up('a', one.port)])])]);
      await edge.settled();
      assert.equal((await call(edge.url, 'shop-acme.pier.test', '/')).body, 'one /');
      // A second app needs a new backend: a reload through the master socket.
      edge.setRoutes([app('shop', [route('/', [up('a', one.port)])]), app('blog', [route('/', [up('b', two.port)], { serviceId: 'svc-blog' })])]);
      await edge.settled();
      assert.equal((await call(edge.url, 'blog-acme.pier.test', '/')).body, 'two /');
      assert.ok(edge.dataplane!().reloads >= 1, 'reloaded through the master socket');
    } finally {
      await edge.close();
    }
    for (const link of links) assert.ok(!existsSync(link), `${link} removed with the edge`);
  } finally {
    await one.close();
    await two.close();
    rmSync(base, { recursive: true, force: true });
  }
});
