// The lines `pier up` prints after start-up, from the events of real reconciler passes (the fake runtime's scripted
// crash and a healthy rollout): one per deploy that went HEALTHY, per failed deployment and per crash, with names.
// (MemoryState bumps a row's version on every write, so the deployment's vN is not checked here.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { operatorLine, withOperatorLog } from '../../src/control/operator-log.ts';
import { makeWorld, webDefinition } from './world.ts';

async function linesOf(w: ReturnType<typeof makeWorld>): Promise<string[]> {
  const lines: string[] = [];
  const quiet = new Proxy(w.state, { get: (t, k) => (k === 'appendEvent' ? async () => {} : (Reflect.get(t, k, t) as Function)?.bind?.(t) ?? Reflect.get(t, k, t)) });
  const logged = withOperatorLog(quiet, (l) => lines.push(l));
  for (const e of w.state.events) await logged.appendEvent(e);
  return lines;
}

test('operator lines: a healthy deploy is one line with the app, service and version', async () => {
  const w = makeWorld();
  await w.createService(webDefinition());
  for (let i = 0; i < 5; i++) { await w.settle(); w.clock.advance(10_000); }
  const lines = await linesOf(w);
  assert.deepEqual(lines.filter((l) => l.startsWith('deployed: ')).length, 1, lines.join('\n'));
  assert.match(lines.find((l) => l.startsWith('deployed: '))!, /^deployed: [a-z0-9-]+\/api v\d+: Healthy in fra\.$/);
  assert.equal(lines.filter((l) => /crash|failed/.test(l)).length, 0, lines.join('\n'));
});

test('operator lines: each crash and the failed deployment, with the crash reason', async () => {
  const w = makeWorld();
  w.runtime.script = () => ({ exit: { code: 1 }, stderr: ['TypeError: boom', '    at main (/app/server.js:3:9)', '', 'Node.js v20.20.2'] });
  await w.createService(webDefinition());
  for (let i = 0; i < 10; i++) { await w.settle(); w.clock.advance(10_000); }
  const lines = await linesOf(w);
  const crashes = lines.filter((l) => l.startsWith('crashed: '));
  assert.ok(crashes.length >= 2, lines.join('\n'));
  assert.match(crashes[0]!, /^crashed: [a-z0-9-]+\/api instance [0-9a-f-]{8}: exited with code 1 after .*: TypeError: boom \(at main \(\/app\/server\.js:3:9\)\)$/);
  assert.equal(lines.filter((l) => l.startsWith('crash loop: ')).length, 1, lines.join('\n'));
  assert.match(lines.find((l) => l.startsWith('deployment failed: '))!, /^deployment failed: [a-z0-9-]+\/api v\d+: Deployment failed: instance .* keeps crashing .*TypeError: boom/);
});

test('operator lines: other events print nothing', () => {
  assert.equal(operatorLine({ kind: 'deployment', resourceId: 'd', organizationId: 'o', when: '2026-01-01T00:00:00Z', type: 'deployment_provisioning', message: 'x', metadata: { from: 'PENDING', to: 'PROVISIONING' } }), undefined);
  assert.equal(operatorLine({ kind: 'deployment', resourceId: 'd', organizationId: 'o', when: '2026-01-01T00:00:00Z', type: 'deployment_healthy', message: 'x', metadata: { from: 'DEGRADED', to: 'HEALTHY' } }), undefined);
  assert.equal(operatorLine({ kind: 'instance', resourceId: 'i', organizationId: 'o', when: '2026-01-01T00:00:00Z', type: 'instance_healthy', message: 'x', metadata: { from: 'STARTING', to: 'HEALTHY' } }), undefined);
});
