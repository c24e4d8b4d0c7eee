// The rollout scenario (rollout-scenario.ts) against the real process runtime (bubblewrap + cgroups) and SQLite.
// A git deployment's "build" is a prepared directory (`dir:<path>`, as src/build yields for this runtime) whose
// .pier/run starts the test app in the mode the branch names.
import { test, after } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeBuilder } from './fake-builder.ts';
import { InstanceCgroup, detectCgroupLayout } from '../../src/runtime/process/cgroups.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { prepareTestAppDir } from '../../src/runtime/testing/images.ts';
import { runRolloutScenario } from './rollout-scenario.ts';
import { webDefinition } from './world.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'pier-rollout-process-'));
const cgroupParent = `pier-test-rollout-${process.pid}`;
const runtime = new ProcessRuntime({ stateDir, cgroupParent });
const usable = await runtime.capabilities().then(() => true, (err: Error) => err.message);
const dirs = new Map<string, string>();

after(() => {
  for (const d of dirs.values()) rmSync(d, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
  const layout = detectCgroupLayout();
  if (layout) new InstanceCgroup(layout, '', cgroupParent).destroy();
});

/** The builder double (held to the builder contract): one prepared directory per mode (the branch), reused. */
const builder = new FakeBuilder((d) => {
  const mode = d.definition.git?.branch ?? 'serve';
  let dir = dirs.get(mode);
  if (!dir) {
    const app = prepareTestAppDir();
    mkdirSync(join(app.dir, '.pier'));
    const args = mode.split(' ').map((a) => `'${a}'`).join(' ');
    writeFileSync(join(app.dir, '.pier', 'run'), `exec ${app.entrypoint.join(' ')} ${args}\n`);
    dirs.set(mode, dir = app.dir);
  }
  return { image: `dir:${dir}` };
});

test('control plane over the process runtime + sqlite', { skip: usable === true ? false : `process runtime unusable: ${usable}`, timeout: 110_000 }, async (t) => {
  await runRolloutScenario(t, {
    runtime, builder,
    definition: (args, over) => webDefinition({ docker: undefined, git: { repository: 'https://git.invalid/app.git', branch: args.join(' ') || 'serve' }, ...over }),
  });
});
