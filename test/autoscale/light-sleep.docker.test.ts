// Light sleep (the container's cgroup frozen) thawed by a request, then deep sleep, with real Docker containers (light-sleep-scenario.ts).
import { test } from 'node:test';
import { engineUp, startScalePier } from './harness.ts';
import { lightSleepScenario } from './light-sleep-scenario.ts';

test('light sleep freezes the container, a request thaws it; deep sleep removes it', { skip: engineUp ? false : 'Docker engine not reachable', timeout: 120_000 }, async () => {
  const p = await startScalePier('docker');
  try {
    const r = await lightSleepScenario(p);
    process.stderr.write(`light-sleep docker: wake from light sleep ${r.wakeMs.toFixed(1)} ms, from deep sleep ${r.deepWakeMs.toFixed(1)} ms\n`);
  } finally {
    await p.close();
  }
});
