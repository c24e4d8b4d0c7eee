// The rollout scenario (rollout-scenario.ts) on gVisor (PIER_RUNTIME=gvisor: the Docker driver with runsc) and the
// real SQLite store. Skipped, with the reason, where the engine has no runsc runtime (scripts/setup-host.sh --gvisor
// registers it; gvisor.docker.test.ts does that as root).
import { test } from 'node:test';
import { GvisorRuntime } from '../../src/runtime/docker/gvisor.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { runRolloutScenario } from './rollout-scenario.ts';
import { webDefinition } from './world.ts';

// Scoped like a Pier installation, as in rollout.docker.test.ts: recover() sees only this test's containers.
const runtime = new GvisorRuntime({ scope: `pier-test-rollout-gv-${crypto.randomUUID()}` });
const usable = await runtime.capabilities().then(() => true, (err: Error) => err.message);

test('control plane over gvisor + sqlite', { skip: usable === true ? false : `gvisor runtime unusable: ${usable}`, timeout: 240_000 }, async (t) => {
  const image = await ensureTestImage();
  await runRolloutScenario(t, {
    runtime,
    definition: (args, over) => webDefinition({ docker: { image, ...(args.length ? { args } : {}) }, ...over }),
    // ptrace: every system call a round trip through the Sentry (starts ~1.4x runc's, requests ~2x, docs/limits.md).
    slowdown: 2,
  });
});
