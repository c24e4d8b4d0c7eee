// The controller's write count: every write of the port that means progress is counted, log lines are not, and
// reads reach the wrapped state unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countingState } from '../../src/control/controller.ts';
import { MemoryState } from './memory-state.ts';
import type { NewLogLine } from '../../src/control/ports.ts';
import { makeWorld, webDefinition } from './world.ts';

test('countingState counts progress writes, not log lines, and forwards reads', async () => {
  const w = makeWorld();
  const { service } = await w.createService(webDefinition());
  let count = 0;
  const state = countingState(w.state, () => { count++; });
  assert.equal((await state.getService(service.id))?.id, service.id);
  assert.equal((await state.listServices()).length, 1);
  assert.equal(count, 0);
  await state.updateService(service.id, { messages: ['x'] });
  await state.appendEvent({ kind: 'service', resourceId: service.id, organizationId: service.organization_id, type: 't', message: 'm', metadata: {}, when: new Date().toISOString() });
  assert.equal(count, 2);
  const line: NewLogLine = {
    organization_id: 'o', app_id: 'a', service_id: service.id, deployment_id: 'd', regional_deployment_id: 'r', instance_id: 'i',
    stream: 'koyeb', msg: 'hello', created_at: new Date().toISOString(),
  };
  await state.appendLog(line);
  assert.equal(count, 2);
  assert.equal(w.state.logs.length, 1);
});

test('countingState exposes exactly the port: helpers of the implementation stay out', () => {
  const state = countingState(new MemoryState(), () => {});
  assert.equal((state as unknown as Record<string, unknown>).putService, undefined);
  assert.equal(typeof state.registrySecret, 'function');
});
