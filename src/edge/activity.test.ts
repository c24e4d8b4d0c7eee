// The fingerprint edge workers compare before posting metrics (issue #26): unchanged while idle, whatever the number
// of routes, and moved by every request and every route change, so the coordinator never misses a count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenOn } from './addr.ts';
import { EdgeCore } from './core.ts';
import { app, call, route, startUpstream, up } from './test-helpers.ts';

test('activity() stays put while idle and moves with each request and each route change', async () => {
  const upstream = await startUpstream('a');
  const core = new EdgeCore({ domain: 'pier.test' });
  const port = await listenOn(core.server, '127.0.0.1:0');
  const url = `http://127.0.0.1:${port}`;
  try {
    const apps = Array.from({ length: 200 }, (_, i) => app(`a${i}`, [route('/', [up(`i${i}`, upstream.port)])]));
    core.setRoutes(apps, 'pier.test');
    const idle = core.activity();
    assert.equal(core.activity(), idle, 'idle: the same fingerprint');
    assert.equal((await call(url, 'a7-acme.pier.test', '/')).status, 200);
    const afterOne = core.activity();
    assert.notEqual(afterOne, idle, 'a request moves it');
    assert.equal(core.activity(), afterOne);
    assert.equal((await call(url, 'nope-acme.pier.test', '/')).status, 404);
    core.setRoutes(apps.slice(1), 'pier.test');
    assert.notEqual(core.activity(), afterOne, 'a route change moves it');
  } finally {
    await core.close();
    await upstream.close();
  }
});
