// An edge created with requireRoutes (a new leader's in-process edge, a regional edge) answers 503 "no route table
// yet" with Retry-After, never 404, until its first table; /_pier/ready answers 503 then 200. Also with workers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEdge } from './edge.ts';
import { app, call, route, startUpstream, up, type TestUpstream } from './test-helpers.ts';

let upstream: TestUpstream;
before(async () => { upstream = await startUpstream('fra'); });
after(async () => { await upstream.close(); });

for (const workers of [1, 2]) {
  test(`requireRoutes (workers ${workers}): 503 with Retry-After before the first table, then served; /_pier/ready 503 then 200`, async () => {
    const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'localhost', workers, requireRoutes: true });
    try {
      const early = await fetch(`${edge.url}/x`, { headers: { host: 'shop.example' } });
      assert.equal(early.status, 503);
      assert.equal(early.headers.get('retry-after'), '1');
      assert.match(await early.text(), /no route table yet/);
      assert.equal((await fetch(`${edge.url}/_pier/ready`)).status, 503);
      edge.setRoutes([app('shop', [route('/', [up('i1', upstream.port, 'fra')])], { hosts: ['shop.example'] })]);
      let served = await call(edge.url, 'shop.example', '/x');
      // Workers receive the table by message: allow it a bounded moment to arrive.
      for (let i = 0; i < 100 && served.status === 503; i++) {
        await new Promise((r) => setTimeout(r, 20));
        served = await call(edge.url, 'shop.example', '/x');
      }
      assert.equal(served.body, 'fra /x');
      // Each worker answers /_pier/ready from its own table; a connection may land on a worker whose copy of the
      // table is still in flight, so it too gets the same bounded moment (it must turn 200, never stay 503).
      let ready = (await fetch(`${edge.url}/_pier/ready`)).status;
      for (let i = 0; i < 100 && ready === 503; i++) {
        await new Promise((r) => setTimeout(r, 20));
        ready = (await fetch(`${edge.url}/_pier/ready`)).status;
      }
      assert.equal(ready, 200);
      assert.equal((await call(edge.url, 'other.example', '/')).status, 404, 'with a table, unknown hosts are 404 again');
    } finally {
      await edge.close();
    }
  });
}

test('without requireRoutes an edge serves its (empty) table at once, as before', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'localhost' });
  try {
    assert.equal((await call(edge.url, 'shop.example', '/')).status, 404);
    assert.equal((await fetch(`${edge.url}/_pier/ready`)).status, 200);
  } finally {
    await edge.close();
  }
});
