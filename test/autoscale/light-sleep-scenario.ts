// Light sleep, then deep sleep, over a real runtime (shared by the docker and process suites): a min-0 service with
// light_sleep_value 1 s and deep_sleep_value 5 s serves, goes to light sleep (SLEEPING, its workload frozen: the container's
// cgroup or the sandbox's frozen, still there), is thawed by the next request (the same instance answers, no new workload),
// freezes again, then goes to deep sleep (the workload stopped: Docker keeps the stopped container and the next request
// starts it again, the process runtime removes its sandbox and the next request starts a new instance). Every request
// through the edge must succeed.
import assert from 'node:assert/strict';
import { until, webDef, type ScalePier } from './harness.ts';

export async function lightSleepScenario(p: ScalePier): Promise<{ wakeMs: number; deepWakeMs: number }> {
  const frozen = (allocationId: string) => p.frozen(allocationId);
  const app = await p.createApp('dozy');
  const svc = await p.createService(app, 'web', webDef(p.runtime, { min: 0, max: 1, targets: [{ sleep_idle_delay: { light_sleep_value: 1, deep_sleep_value: 5 } }] }));
  await until('healthy', async () => (await p.instances(svc.id, ['HEALTHY'])).length === 1, 60_000, 50);
  const host = p.hostOf('dozy');
  const first = await p.get(host);
  assert.equal(first.status, 200, first.body);
  const [inst] = await p.instances(svc.id, ['HEALTHY']);
  assert.match(first.body, new RegExp(inst.id));

  const asleepLight = async () => {
    const [s] = await p.instances(svc.id, ['SLEEPING']);
    return s && /light sleep/.test(s.messages?.[0] ?? '') && await frozen(s.allocation_id) ? s : undefined;
  };
  const light = await until('light sleep: SLEEPING and frozen', asleepLight, 20_000, 50);
  assert.equal(light.id, inst.id);
  assert.equal(await p.workloadExists(light.allocation_id), true, 'light sleep keeps the workload');

  // The next request thaws the same workload: no new instance.
  const woke = await p.get(host);
  assert.equal(woke.status, 200, woke.body);
  assert.match(woke.body, new RegExp(inst.id), 'the frozen instance itself answers');
  assert.equal(await frozen(light.allocation_id), false);
  assert.equal((await p.instances(svc.id, ['HEALTHY'])).length, 1);

  // Idle again: light sleep, then deep sleep at 5 s (the workload stops; Docker keeps the stopped container).
  await until('light sleep again', asleepLight, 20_000, 50);
  const deep = await until('deep sleep: the workload stopped', async () => {
    const [s] = await p.instances(svc.id, ['SLEEPING']);
    return s && /deep sleep/.test(s.messages?.[0] ?? '') && !(await p.workloadRunning(s.allocation_id)) ? s : undefined;
  }, 30_000, 100);
  assert.equal(deep.id, inst.id);
  const kept = p.runtime === 'docker';
  if (kept) assert.equal(await p.workloadExists(deep.allocation_id), true, 'Docker keeps the stopped container');
  else await until('the sandbox removed', async () => !(await p.workloadExists(deep.allocation_id)), 15_000, 100);
  assert.equal(await frozen(deep.allocation_id), false);
  const events = await p.scalingEvents(svc.id);
  assert.ok(events.some((e) => /light sleep, the workload is frozen/.test(e)), events.join('\n'));
  assert.ok(events.some((e) => /deep sleep, the workload stops/.test(e)), events.join('\n'));

  // From deep sleep a request starts the kept container again (the same instance answers) or a new instance.
  const fresh = await p.get(host);
  assert.equal(fresh.status, 200, fresh.body);
  if (kept) assert.match(fresh.body, new RegExp(inst.id), 'the kept container answers again');
  else assert.doesNotMatch(fresh.body, new RegExp(inst.id), 'deep sleep wakes a new instance');
  return { wakeMs: woke.ms, deepWakeMs: fresh.ms };
}
