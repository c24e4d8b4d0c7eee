import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../docker/engine.ts';
import { DRAINED_FOR_LOSS_LABEL, nodeUpdateSpec, planNodeActions, watchNodeLoss, type NodeProbe } from './node-loss.ts';
import { SwarmRuntime } from './driver.ts';
import { swarmOptionsFromEnv } from './config.ts';
import type { NodeJson } from './spec.ts';

const RULES = { misses: 3, answers: 3 };

function node(id: string, addr: string, over: { role?: string; availability?: string; state?: string; drained?: boolean; manager?: boolean } = {}): NodeJson {
  return {
    ID: id,
    Version: { Index: 10 },
    Spec: {
      Name: `was-${id}`, Role: over.role ?? (over.manager ? 'manager' : 'worker'), Availability: over.availability ?? 'active',
      Labels: { 'dev.pier.region': 'was', ...(over.drained ? { [DRAINED_FOR_LOSS_LABEL]: '1' } : {}) },
    },
    Status: { State: over.state ?? 'ready', Addr: addr },
    ...(over.manager ? { ManagerStatus: { Addr: `${addr}:2377` } } : {}),
  };
}

const probes = (rows: Record<string, [number, number]>) => new Map<string, NodeProbe>(Object.entries(rows).map(([a, [misses, answers]]) => [a, { misses, answers }]));
const plan = (nodes: NodeJson[], rows: Record<string, [number, number]>) => planNodeActions(nodes, probes(rows), RULES).map((a) => `${a.kind} ${a.node.ID}`);

test('node loss: a worker is drained after 3 missed pings, and only a ready, active worker seen from a healthy side', () => {
  const m = node('m', '10.0.0.1', { manager: true });
  const rows = (victim: [number, number]) => ({ '10.0.0.1': [0, 9] as [number, number], '10.0.0.2': victim, '10.0.0.3': [0, 9] as [number, number] });
  const cases: Array<[string, NodeJson[], Record<string, [number, number]>, string[]]> = [
    ['3 misses in a row: drained', [m, node('a', '10.0.0.2'), node('b', '10.0.0.3')], rows([3, 0]), ['drain a']],
    ['2 misses: not yet', [m, node('a', '10.0.0.2'), node('b', '10.0.0.3')], rows([2, 0]), []],
    ['a manager is never drained', [m, node('b', '10.0.0.3')], { '10.0.0.1': [5, 0], '10.0.0.3': [0, 9] }, []],
    ['a worker promoted by role is a manager too', [m, node('a', '10.0.0.2', { role: 'manager' })], { '10.0.0.1': [0, 9], '10.0.0.2': [5, 0] }, []],
    ['an operator\'s drain is left alone', [m, node('a', '10.0.0.2', { availability: 'drain' })], rows([5, 0]), []],
    ['an operator\'s pause is left alone', [m, node('a', '10.0.0.2', { availability: 'pause' })], rows([5, 0]), []],
    ['Swarm declared it down already: nothing to do', [m, node('a', '10.0.0.2', { state: 'down' })], rows([5, 0]), []],
    ['already drained for loss: not again', [m, node('a', '10.0.0.2', { drained: true })], rows([5, 0]), []],
    ['most probed nodes silent: Pier\'s side is suspect, nothing drained', [m, node('a', '10.0.0.2'), node('b', '10.0.0.3')],
      { '10.0.0.1': [3, 0], '10.0.0.2': [3, 0], '10.0.0.3': [0, 9] }, []],
    ['two nodes, the manager answers: the worker is drained', [m, node('a', '10.0.0.2')], { '10.0.0.1': [0, 9], '10.0.0.2': [3, 0] }, ['drain a']],
    ['a node without a socket is left to Swarm', [m, node('a', '10.0.0.2'), node('c', '10.0.0.9')], rows([0, 9]), []],
    ['back: 3 answers and Swarm says ready: restored', [m, node('a', '10.0.0.2', { availability: 'drain', drained: true })], rows([0, 3]), ['restore a']],
    ['back but only 2 answers: not yet', [m, node('a', '10.0.0.2', { availability: 'drain', drained: true })], rows([0, 2]), []],
    ['answers but Swarm still says down: wait', [m, node('a', '10.0.0.2', { availability: 'drain', drained: true, state: 'down' })], rows([0, 5]), []],
    ['an operator made it active meanwhile: only the label goes', [m, node('a', '10.0.0.2', { availability: 'pause', drained: true })], rows([0, 5]), ['forget a']],
  ];
  for (const [name, nodes, rowsOf, want] of cases) assert.deepEqual(plan(nodes, rowsOf), want, name);
});

test('node loss: the update keeps the node spec, sets the availability and the label, and takes them back', () => {
  const a = node('a', '10.0.0.2');
  const drain = nodeUpdateSpec({ kind: 'drain', node: a, reason: '' });
  assert.deepEqual(drain, { Name: 'was-a', Role: 'worker', Availability: 'drain', Labels: { 'dev.pier.region': 'was', [DRAINED_FOR_LOSS_LABEL]: '1' } });
  const back = node('a', '10.0.0.2', { availability: 'drain', drained: true });
  assert.deepEqual(nodeUpdateSpec({ kind: 'restore', node: back, reason: '' }), { Name: 'was-a', Role: 'worker', Availability: 'active', Labels: { 'dev.pier.region': 'was' } });
  const paused = node('a', '10.0.0.2', { availability: 'pause', drained: true });
  assert.deepEqual(nodeUpdateSpec({ kind: 'forget', node: paused, reason: '' }), { Name: 'was-a', Role: 'worker', Availability: 'pause', Labels: { 'dev.pier.region': 'was' } });
});

test('node loss: PIER_SWARM_DRAIN_LOST_NODES is 1 or 0', () => {
  const base = { PIER_SWARM_HOST: '/m.sock' };
  assert.equal(swarmOptionsFromEnv(base).drainLostNodes, undefined, 'unset: the driver\'s default (on with node sockets)');
  assert.equal(swarmOptionsFromEnv({ ...base, PIER_SWARM_DRAIN_LOST_NODES: '0' }).drainLostNodes, false);
  assert.equal(swarmOptionsFromEnv({ ...base, PIER_SWARM_DRAIN_LOST_NODES: 'on' }).drainLostNodes, true);
  assert.throws(() => swarmOptionsFromEnv({ ...base, PIER_SWARM_DRAIN_LOST_NODES: 'maybe' }), /must be 1 or 0/);
});

/** A unix-socket HTTP server answering with `handler` (a stand-in for an engine). */
async function fakeEngine(path: string, handler: (req: http.IncomingMessage, body: string) => { status?: number; json?: unknown }): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const out = handler(req, body);
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json' });
      res.end(out.json === undefined ? '' : JSON.stringify(out.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

const close = (s: http.Server) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); });

test('node loss: the watch drains a node whose engine went away, with its version, then restores it when it answers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-node-loss-'));
  const nodes = [node('m', '10.0.0.1', { manager: true }), node('a', '10.0.0.2'), node('b', '10.0.0.3')];
  const updates: Array<{ id: string; version: string; spec: NodeJson['Spec'] }> = [];
  const manager = await fakeEngine(join(dir, 'manager.sock'), (req, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/nodes') return { json: nodes };
    const m = /^\/nodes\/(\w+)\/update$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      const n = nodes.find((x) => x.ID === m[1])!;
      if (String(n.Version?.Index) !== url.searchParams.get('version')) return { status: 500, json: { message: 'update out of sequence' } };
      updates.push({ id: m[1], version: url.searchParams.get('version')!, spec: JSON.parse(body) });
      n.Spec = JSON.parse(body);
      n.Version = { Index: (n.Version?.Index ?? 0) + 1 };
      return { json: null };
    }
    return { status: 404, json: { message: 'no' } };
  });
  const ping = () => ({ json: 'OK' });
  const engines = new Map<string, http.Server>();
  for (const n of ['m', 'a', 'b']) engines.set(n, await fakeEngine(join(dir, `${n}.sock`), ping));
  const sockets = { '10.0.0.1': join(dir, 'm.sock'), '10.0.0.2': join(dir, 'a.sock'), '10.0.0.3': join(dir, 'b.sock') };
  let changes = 0;
  const lines: string[] = [];
  const stop = watchNodeLoss(new DockerEngine(join(dir, 'manager.sock')), sockets, () => { changes++; },
    { intervalMs: 20, retryMs: 10, timeoutMs: 2000, nodesMaxAgeMs: 50, log: (l) => lines.push(l) });
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), `timed out waiting for ${what}`);
  };
  try {
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(updates.length, 0, 'every engine answers: nothing drained');
    await close(engines.get('a')!); // node a's engine is gone (the socket refuses)
    await until('node a drained', () => updates.length >= 1);
    assert.equal(updates[0].id, 'a');
    assert.equal(updates[0].version, '10', 'the update carries the version read from the manager');
    assert.equal(updates[0].spec.Availability, 'drain');
    assert.equal(updates[0].spec.Labels?.[DRAINED_FOR_LOSS_LABEL], '1');
    await until('the controller woken', () => changes >= 1);
    assert.match(lines.join('\n'), /drained node was-a \(region was\): its engine missed [3-9] pings in a row/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(updates.length, 1, 'drained once, and the manager and b never');

    engines.set('a', await fakeEngine(join(dir, 'a.sock'), ping)); // back
    await until('node a restored', () => updates.length >= 2);
    assert.equal(updates[1].id, 'a');
    assert.equal(updates[1].version, '11');
    assert.equal(updates[1].spec.Availability, 'active');
    assert.equal(updates[1].spec.Labels?.[DRAINED_FOR_LOSS_LABEL], undefined);
    assert.deepEqual(updates[1].spec.Labels, { 'dev.pier.region': 'was' });
  } finally {
    stop();
    for (const s of [manager, ...engines.values()]) await close(s).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('node loss: inspect reports an instance on a node Pier drained as lost, unless it had ended by itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-node-loss-'));
  const n = node('a', '10.0.0.2', { availability: 'drain', drained: true });
  let state = 'running';
  const manager = await fakeEngine(join(dir, 'manager.sock'), (req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/services/svc1') return { json: { ID: 'svc1', Version: { Index: 1 }, Spec: { Name: 'pier-i', TaskTemplate: {} } } };
    if (url.pathname === '/tasks') {
      return { json: [{ ID: 't1', ServiceID: 'svc1', CreatedAt: '2026-01-01T00:00:00Z', NodeID: 'a', DesiredState: 'shutdown', Status: { Timestamp: '2026-01-01T00:00:05Z', State: state, ContainerStatus: { ContainerID: 'c', ExitCode: state === 'failed' ? 3 : undefined } } }] };
    }
    if (url.pathname === '/nodes/a') return { json: n };
    return { status: 404, json: { message: 'no' } };
  });
  try {
    const rt = new SwarmRuntime({ socketPath: join(dir, 'manager.sock') });
    for (const s of ['running', 'shutdown']) {
      state = s;
      const got = await rt.inspect('svc1');
      assert.equal(got?.running, false);
      assert.equal(got?.exit?.lost, true, `a ${s} task on a node Pier drained is lost`);
      assert.match(got?.exit?.error ?? '', /Instance lost: node was-a \(region was\) is unreachable/);
    }
    state = 'failed';
    const exited = await rt.inspect('svc1');
    assert.equal(exited?.exit?.lost, undefined, 'it had exited by itself before: a plain exit');
    assert.equal(exited?.exit?.exitCode, 3);
  } finally {
    await close(manager);
    rmSync(dir, { recursive: true, force: true });
  }
});
