// Autoscaling and scale-to-zero with real Docker containers, through the default platform wiring (src/platform.ts).
import { test } from 'node:test';
import { engineUp, startScalePier } from './harness.ts';
import { autoscaleScenario } from './scenario.ts';

test('autoscaling and scale-to-zero over real docker instances', { skip: engineUp ? false : 'Docker engine not reachable', timeout: 180_000 }, async (t) => {
  const p = await startScalePier('docker');
  try {
    await autoscaleScenario(t, p);
  } finally {
    await p.close();
  }
});
