// A regional edge's traffic reaches the control plane (POST /v1/pier/edge/traffic): a min-0 service served only
// through a regional edge stays awake while requests come, and sleeps after its idle delay once they stop. Before,
// the controller saw only its in-process edge's counters, so such a service slept under load and each request then
// waited for a wake-up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteEdge, type RemoteEdge } from '../../src/edge/remote.ts';
import { edgeGet, engineUp, startEdgePier, until, webDef, type EdgePier } from './harness.ts';

const skip = engineUp ? false : 'no Docker engine (bash scripts/setup-host.sh starts one)';
let p: EdgePier;
let remote: RemoteEdge;

before(async () => {
  if (skip) return;
  p = await startEdgePier();
  remote = await createRemoteEdge({ api: p.pier.apiUrl, token: p.token, addr: '127.0.0.1:0', region: 'was', log: () => {}, dataplane: { dataplane: 'node', auto: false } });
});
after(async () => {
  await remote?.close();
  await p?.close();
});

test('a min-0 service served only through a regional edge stays awake under its requests and sleeps once they stop', { skip, timeout: 180_000 }, async () => {
  const appId = await p.createApp('far');
  const svc = await p.createService(appId, 'web', webDef(p.image, '/', {
    scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 3 } }] }],
  }));
  const host = p.hostOf('far');
  await until('served through the regional edge', async () => (await edgeGet(remote.url, host, '/health')).status === 200, 120_000, 250);
  await until('the regional edge reported', async () => p.pier.routeFeed.traffic.edgesSeen().some((e) => e.region === 'was'), 10_000, 100);
  const statusOf = async () => (await p.instances(svc.id)).map((i: { status: string }) => i.status).filter((x: string) => x !== 'STOPPED').join(',');

  const sleeps = async () => ((await p.api('GET', `/v1/service_events?service_id=${svc.id}&limit=100&order=asc`)).body.events ?? [])
    .filter((e: { type: string; message: string }) => e.type === 'autoscaled' && / -> 0: /.test(e.message)).map((e: { message: string }) => e.message);
  const sleptBefore = (await sleeps()).length;

  // A request every 500 ms for 9 s (three idle delays), only through the regional edge. A wake-up is quick enough
  // to hide between two status reads, so the events say whether it slept meanwhile.
  const seen = new Set<string>();
  const codes = new Set<number>();
  for (let i = 0; i < 18; i++) {
    codes.add((await edgeGet(remote.url, host, '/health')).status);
    seen.add(await statusOf());
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual([...codes], [200]);
  assert.deepEqual((await sleeps()).slice(sleptBefore), [], 'no sleep under the regional edge\'s requests');
  assert.deepEqual([...seen], ['HEALTHY'], 'awake all along');

  // Requests stop: asleep after the idle delay.
  await until('asleep once the requests stopped', async () => (await statusOf()) === 'SLEEPING', 60_000, 250);
});
