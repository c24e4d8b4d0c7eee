// The rollout scenario (rollout-scenario.ts) on microVMs (PIER_RUNTIME=microvm: one QEMU microvm per instance; TCG on
// these machines, where /dev/kvm is PVM) and the real SQLite store. Skipped, with the reason, where the driver cannot
// work (not root, no QEMU, no guest kernel, no Docker engine for the image), as microvm.slow.test.ts is.
import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MicrovmRuntime } from '../../src/runtime/microvm/driver.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { runRolloutScenario } from './rollout-scenario.ts';
import { webDefinition } from './world.ts';

// Its own state directory: recover() sees only this test's VMs.
const stateDir = mkdtempSync(join(tmpdir(), 'pier-rollout-microvm-'));
const runtime = new MicrovmRuntime({ stateDir, log: () => undefined });
const usable = await runtime.capabilities().then(() => true, (err: Error) => err.message);

after(async () => {
  for (const h of await runtime.recover().catch(() => [])) await runtime.remove(h.runtimeId).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

test('control plane over microVMs + sqlite', { skip: usable === true ? false : `microvm runtime unusable: ${usable}`, timeout: 540_000 }, async (t) => {
  const image = await ensureTestImage();
  await runRolloutScenario(t, {
    runtime,
    definition: (args, over) => webDefinition({ docker: { image, ...(args.length ? { args } : {}) }, ...over }),
    // TCG: a guest boots in 2-3 s on an idle core, 10-20 s on this loaded 2-core machine (docs/limits.md), the
    // factor the conformance suite uses for this driver.
    slowdown: 4,
  });
});
