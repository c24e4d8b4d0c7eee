// The multi-process edge (`workers: 2`): every worker gets every routing update, counters from all workers
// are merged, access logs and wake-ups reach the coordinator, drain fans out. Real worker processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEdge } from './edge.ts';
import type { AccessLogEntry } from './types.ts';
import { app, call, route, startUpstream, until, up } from './test-helpers.ts';

test('workers: routes reach every worker, metrics merge, logs and wake-ups reach the coordinator', async () => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  const logs: AccessLogEntry[] = [];
  const wakes: string[] = [];
  const edge = await createEdge({
    addr: '127.0.0.1:0', domain: 'pier.test', workers: 2, balance: 'round-robin', accessLog: (e) => logs.push(e),
    onWake: async (id) => { wakes.push(id); },
  });
  try {
    edge.setRoutes([app('c', [route('/', [up('ia', a.port)])])]);
    // Many fresh connections spread over both workers; each must already know the route.
    const first = await Promise.all(Array.from({ length: 40 }, (_, i) => call(edge.url, 'c-acme.pier.test', `/${i}`)));
    assert.ok(first.every((r) => r.body.startsWith('a /')), 'all routed to a');
    // Round-robin balance: a burst of fresh connections reaches both workers (request ids carry a per-worker prefix).
    const workersSeen = new Set(first.map((r) => String(r.headers['x-request-id']).slice(0, 12)));
    assert.equal(workersSeen.size, 2, `request ids: ${first.map((r) => r.headers['x-request-id']).join(' ')}`);
    await edge.refreshMetrics!();
    const m = edge.metrics();
    assert.equal(m.instances.ia.requests, 40);
    assert.equal(m.routes['app-c svc/ /'].requests, 40);
    assert.match(edge.prometheus(), /pier_edge_instance_requests_total\{instance="ia",code="2xx"\} 40/);
    // A routing update reaches every worker.
    edge.setRoutes([app('c', [route('/', [up('ib', b.port)])])]);
    let stale = 0;
    for (let round = 0; round < 50; round++) {
      const rs = await Promise.all(Array.from({ length: 20 }, () => call(edge.url, 'c-acme.pier.test', '/n')));
      stale = rs.filter((r) => !r.body.startsWith('b /')).length;
      if (stale === 0) break;
    }
    assert.equal(stale, 0);
    await edge.refreshMetrics!();
    const m2 = edge.metrics();
    // Removed instances drop out of the counters; the route keeps counting across the switch.
    assert.equal(m2.instances.ia, undefined);
    assert.equal(m2.routes['app-c svc/ /'].requests, 40 + m2.instances.ib.requests);
    await until(() => logs.length >= 60);
    assert.ok(logs.every((l) => l.host === 'c-acme.pier.test'));
    // Sleeping app: held in whichever worker got the request, one wake-up, released by setRoutes.
    edge.setRoutes([app('c', [route('/', [])], { sleeping: true })]);
    const held = Promise.all(Array.from({ length: 6 }, () => call(edge.url, 'c-acme.pier.test', '/z')));
    await until(() => wakes.length > 0);
    await edge.refreshMetrics!();
    await until(() => { void edge.refreshMetrics!(); return edge.metrics().apps['app-c']?.held === 6; });
    edge.setRoutes([app('c', [route('/', [up('ia', a.port)])])]);
    assert.ok((await held).every((r) => r.body === 'a /z'));
    assert.deepEqual(wakes, ['app-c']);
    await edge.drain('ia', 1000);
  } finally {
    await edge.close();
    await a.close();
    await b.close();
  }
});
