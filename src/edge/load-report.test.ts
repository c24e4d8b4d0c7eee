// Load reports through a real edge (issue #23): requests on a route whose service autoscales on its requests make
// the edge call onLoad once they are more than the serving instances take; a route without a watch never does. With
// worker processes the report reaches the coordinator after the worker's counters, so a sample taken on the report
// already counts the rise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEdge } from './edge.ts';
import { app, route, slowThenBurst, startUpstream, up } from './test-helpers.ts';

for (const workers of [1, 2]) {
  test(`a rise past the watch is reported with the counters that show it (${workers === 1 ? 'one process' : 'two workers'})`, async () => {
    const upstream = await startUpstream('a');
    const reports: { serviceId: string; counted: number }[] = [];
    const edge = await createEdge({
      addr: '127.0.0.1:0', domain: 'pier.test', workers,
      onLoad: (serviceId) => reports.push({ serviceId, counted: edge.metrics().instances.i1?.requests ?? 0 }),
    });
    try {
      edge.setRoutes([
        app('busy', [route('/', [up('i1', upstream.port)], { serviceId: 'svc-busy', loadWatch: { max: 3, perSecond: 5 } })]),
        app('plain', [route('/', [up('i2', upstream.port)], { serviceId: 'svc-plain' })]),
      ], 'pier.test');
      // Two requests per second is inside the target; back to back (hundreds per second) on both apps, only the
      // watched route is reported.
      const slow = await slowThenBurst(edge.url, 'busy-acme.pier.test', 'plain-acme.pier.test', reports, 3000);
      assert.equal(slow, 0, JSON.stringify(reports));
      assert.ok(reports.length > 0, 'the rise was reported');
      assert.ok(reports.every((r) => r.serviceId === 'svc-busy'), JSON.stringify(reports));
      assert.ok(reports[0]!.counted > 3, `the counters seen at the report hold the rise (${reports[0]!.counted} requests)`);
    } finally {
      await edge.close();
      await upstream.close();
    }
  });
}
