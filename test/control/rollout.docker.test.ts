// The rollout scenario (rollout-scenario.ts) against a real Docker engine and the real SQLite store.
import { test } from 'node:test';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { runRolloutScenario } from './rollout-scenario.ts';
import { webDefinition } from './world.ts';

// Scoped like a Pier installation: recover() must see only this test's containers, never other suites' running
// at the same time on the same engine (adopting or removing those as orphans was this suite's flake).
const runtime = new DockerRuntime({ scope: `pier-test-rollout-${crypto.randomUUID()}` });
const engineUp = await runtime.capabilities().then(() => true, () => false);

test('control plane over docker + sqlite', { skip: engineUp ? false : 'Docker engine not reachable', timeout: 110_000 }, async (t) => {
  const image = await ensureTestImage();
  await runRolloutScenario(t, {
    runtime,
    definition: (args, over) => webDefinition({ docker: { image, ...(args.length ? { args } : {}) }, ...over }),
  });
});
