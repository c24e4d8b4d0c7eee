// Light sleep (the cgroup freezer) thawed by a request, then deep sleep, with sandboxed processes (light-sleep-scenario.ts).
import { test } from 'node:test';
import { detectCgroupLayout } from '../../src/runtime/process/cgroups.ts';
import { startScalePier } from './harness.ts';
import { lightSleepScenario } from './light-sleep-scenario.ts';

const layout = detectCgroupLayout();
const freezable = layout !== null && (layout.version === 'v2' || layout.mounts.freezer !== undefined);

test('light sleep freezes the sandbox cgroup, a request thaws it; deep sleep removes it', { skip: freezable ? false : 'no cgroup freezer on this host', timeout: 120_000 }, async () => {
  const p = await startScalePier('process');
  try {
    const r = await lightSleepScenario(p);
    process.stderr.write(`light-sleep process: wake from light sleep ${r.wakeMs.toFixed(1)} ms, from deep sleep ${r.deepWakeMs.toFixed(1)} ms\n`);
  } finally {
    await p.close();
  }
});
