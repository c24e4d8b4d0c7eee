// The instance reconciler and the app network (issue #23): it awaits ensureNetwork before start() only for drivers
// whose start does not make the network itself (Swarm); a driver that says it does (Docker, gVisor) gets start() at
// once, and its instances still come up on the app's network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../../src/runtime/contract.ts';
import { makeWorld, webDefinition, type World } from './world.ts';

/** Records, in order, the ensureNetwork and start calls the controller makes, and the network each start asked for. */
function spy(w: World): string[] {
  const order: string[] = [];
  const ensure = w.runtime.ensureNetwork.bind(w.runtime);
  const start = w.runtime.start.bind(w.runtime);
  w.runtime.ensureNetwork = async (name: string) => { order.push(`ensureNetwork ${name}`); return ensure(name); };
  w.runtime.start = async (spec: InstanceSpec) => { order.push(`start ${spec.network}`); return start(spec); };
  return order;
}

test('a driver without startEnsuresNetwork gets ensureNetwork awaited before each start', async () => {
  const w = makeWorld();
  const order = spy(w);
  const { service } = await w.createService(webDefinition({ scalings: [{ min: 2, max: 2 }] }));
  await w.settle();
  assert.equal(w.service(service.id).status, 'HEALTHY');
  const starts = order.filter((c) => c.startsWith('start '));
  assert.equal(starts.length, 2, order.join('\n'));
  const net = starts[0].slice('start '.length);
  assert.match(net, /^pier-app-/);
  // Instances start in parallel: each start has its own ensureNetwork, made before it.
  order.forEach((c, i) => {
    if (!c.startsWith('start ')) return;
    const before = order.slice(0, i);
    assert.ok(before.filter((x) => x === `ensureNetwork ${net}`).length > before.filter((x) => x.startsWith('start ')).length, order.join('\n'));
  });
});

test('a driver whose start makes the network (startEnsuresNetwork) is started without an ensureNetwork first', async () => {
  const w = makeWorld();
  Object.defineProperty(w.runtime, 'startEnsuresNetwork', { value: true });
  const order = spy(w);
  const { service } = await w.createService(webDefinition({ scalings: [{ min: 2, max: 2 }] }));
  await w.settle();
  assert.equal(w.service(service.id).status, 'HEALTHY');
  assert.deepEqual(order.filter((c) => c.startsWith('ensureNetwork')), [], order.join('\n'));
  const starts = order.filter((c) => c.startsWith('start '));
  assert.equal(starts.length, 2, order.join('\n'));
  for (const s of starts) assert.match(s, /^start pier-app-/, 'the spec still names the app network the driver makes');
});
