// The autoscaling scenario both runtimes run through a whole Pier (API, edge, controller): a bounded loopback load
// scales a service up (thawing the standbys it kept frozen below its max) and its end scales it back down, each
// change an event with its reason; a min-0 service sleeps
// after its idle delay and the first request after is held, wakes it and is served. No request fails.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startLoad, until, webDef, type ScalePier } from './harness.ts';

/** Runs the scenario on a started Pier (either runtime). */
export async function autoscaleScenario(t: TestContext, p: ScalePier): Promise<void> {
    const busyApp = await p.createApp('busy');
    const busy = await p.createService(busyApp, 'web', webDef(p.runtime, { min: 1, max: 3, targets: [{ requests_per_second: { value: 5 } }] }));
    const sleepyApp = await p.createApp('sleepy');
    const sleepy = await p.createService(sleepyApp, 'web', webDef(p.runtime, { min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 3 } }] }));
    // The min-0 service may already sleep again (3 s idle) by the time the other one is healthy: both count.
    await until('both services serve', async () => {
      const [a, b] = await Promise.all([p.instances(busy.id, []), p.instances(sleepy.id, [])]);
      const up = a.filter((i) => i.status === 'HEALTHY').length === 1 && b.some((i) => i.status === 'HEALTHY' || i.status === 'SLEEPING');
      if (!up) throw new Error([...a, ...b].map((i) => `${i.status}: ${i.messages?.[0]}`).join(' | '));
      return true;
    }, 90_000, 250);

    /** The busy service's standbys once both are frozen (SLEEPING rows whose workload is frozen): its max 3 leaves room for two. */
    const frozenStandbys = () => until('two frozen standbys', async () => {
      const s = await p.instances(busy.id, ['SLEEPING']);
      // Not yet: say what the service's instances are doing (a failed standby's message says why).
      const why = async () => (await p.instances(busy.id, [])).map((i) => `${i.replica_index} ${i.status}: ${i.messages?.[0]}`).join(' | ');
      if (s.length !== 2) throw new Error(await why());
      for (const i of s) if (!(await p.frozen(i.allocation_id))) throw new Error(`not frozen yet: ${await why()}`);
      return s;
    }, 30_000, 200);
    let standbys: { id: string; allocation_id: string; messages: string[] }[] = [];
    // Both runtimes keep standbys (Runtime.keepsStandbys). On the process runtime the ones made after the scale-down
    // get addresses just freed: they once failed their checks there for 5 s each (stale MACs, netplan.ts macOfAddress).

    await t.test('below its max the service keeps two standbys: started, checked and frozen, not serving', async () => {
      standbys = await frozenStandbys();
      for (const i of standbys) assert.match(i.messages[0], /^Standby instance is sleeping: it passed its health checks and its workload is frozen/);
      // Not routed: every answer comes from the one HEALTHY instance.
      const [serving] = await p.instances(busy.id, ['HEALTHY']);
      for (let k = 0; k < 5; k++) {
        const r = await p.get(p.hostOf('busy'), '/');
        assert.equal(r.status, 200);
        assert.ok(r.body.includes(serving.id), r.body);
      }
    });

    await t.test('a load step scales up to max by thawing the standbys (no new start); every instance serves; nothing fails', async () => {
      const before = new Set((await p.instances(busy.id, [])).map((i) => i.id));
      const load = startLoad(p.edgeUrl, p.hostOf('busy'), 4, 20, 60_000);
      try {
        await until('3 healthy instances', async () => (await p.instances(busy.id, ['HEALTHY'])).length === 3, 45_000, 250);
        // Requests reach the new instances too (each answers with its own id).
        await until('3 instances answered', async () => load.stats.bodies.size >= 3, 15_000, 100);
      } finally {
        await load.stop();
      }
      assert.equal(load.stats.failed, 0, load.stats.failures.join('\n'));
      assert.ok(load.stats.ok > 0);
      const events = await p.scalingEvents(busy.id);
      assert.match(events[0] ?? '', /^1 -> [23]: [\d.]+ requests per second over target 5.*; [12] standby instances? thawed$/);
      // The standbys serve: the very workloads that were frozen, thawed; no instance row was made for the step.
      const healthy = await p.instances(busy.id, ['HEALTHY']);
      for (const sb of standbys) {
        const now = healthy.find((i) => i.id === sb.id);
        assert.ok(now, `standby ${sb.id} is HEALTHY`);
        assert.equal(now.allocation_id, sb.allocation_id, 'the same workload, thawed');
        assert.ok([...load.stats.bodies].some((b) => b.includes(sb.id)), `standby ${sb.id} answered`);
      }
      assert.deepEqual((await p.instances(busy.id, [])).filter((i) => !before.has(i.id)).map((i) => i.status), []);
    });

    await t.test('after the load it scales back down to min, and keeps two standbys again', async () => {
      await until('back to 1 instance', async () => (await p.instances(busy.id, ['HEALTHY', 'UNHEALTHY', 'STOPPING'])).length === 1, 45_000, 250);
      const events = await p.scalingEvents(busy.id);
      assert.match(events.at(-1) ?? '', /-> 1: [\d.]+ requests per second under target 5$/);
      const again = await frozenStandbys();
      assert.equal(again.filter((i) => standbys.some((sb) => sb.id === i.id)).length, 0, 'new standbys');
    });

    await t.test('a min-0 service sleeps when idle and the first request after wakes it and is served', async () => {
      const first = await p.get(p.hostOf('sleepy'), '/');
      assert.equal(first.status, 200);
      const sleeping = await until('instance SLEEPING', async () => {
        const s = await p.instances(sleepy.id, ['SLEEPING']);
        return s.length === 1 && s[0];
      }, 30_000, 200);
      assert.match(sleeping.messages[0], /sleeping/i);
      await until('deployment SLEEPING', async () => (await p.deployment(sleepy.latest_deployment_id)).status === 'SLEEPING', 15_000, 200);
      // Nothing of the service runs while it sleeps: Docker keeps the stopped container (the wake starts it again,
      // issue #23), the process runtime removes its sandbox (the wake starts a new instance).
      await until('workload stopped', async () => !(await p.workloadRunning(sleeping.allocation_id)), 15_000, 200);
      const kept = p.runtime === 'docker';
      if (kept) assert.equal(await p.workloadExists(sleeping.allocation_id), true, 'the stopped container is kept');
      else await until('workload removed', async () => !(await p.workloadExists(sleeping.allocation_id)), 15_000, 200);
      const woke = await p.get(p.hostOf('sleepy'), '/');
      assert.equal(woke.status, 200, woke.body);
      assert.match(woke.body, /hello from pier instance-/);
      if (kept) assert.equal(woke.body, first.body, 'the kept container answered again');
      else assert.notEqual(woke.body, first.body, 'a new instance answered');
      const events = await p.scalingEvents(sleepy.id);
      assert.ok(events.some((e) => /^1 -> 0: no request for [\d.]+ s \(sleep_idle_delay 3 s\)/.test(e)), events.join('\n'));
      assert.match(events.at(-1) ?? '', /^0 -> 1: a request arrived while the service slept$/);
      await until('deployment HEALTHY again', async () => (await p.deployment(sleepy.latest_deployment_id)).status === 'HEALTHY', 15_000, 200);
    });
}
