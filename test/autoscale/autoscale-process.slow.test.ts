// Autoscaling and scale-to-zero with the process runtime (sandboxed processes running the test app directory).
import { test } from 'node:test';
import { startScalePier } from './harness.ts';
import { autoscaleScenario } from './scenario.ts';

test('autoscaling and scale-to-zero over real process instances', { timeout: 180_000 }, async (t) => {
  const p = await startScalePier('process');
  try {
    await autoscaleScenario(t, p);
  } finally {
    await p.close();
  }
});
