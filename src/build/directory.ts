// A buildpack build for the process runtime: the source copied into a directory, dependencies installed and the
// build run inside the build sandbox (sandbox-process.ts: bubblewrap as an unprivileged uid, never on the host;
// the commands themselves are the app's own shell commands), and a launcher at .pier/run that the runtime starts
// as `/bin/sh /app/.pier/run`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { copyContext, listContext } from './context.ts';
import { planLauncher, type BuildPlan } from './detect.ts';
import { writeInsideBuild } from './sandbox-files.ts';

/** Where a directory build's launcher lives, relative to the app directory. */
export const LAUNCHER = '.pier/run';

/** Runs a plan's shell commands in the app directory (in the sandbox); rejects with the first failure. */
export type StepRunner = (commands: string[]) => Promise<void>;

/** Builds `source` into `appDir` following `plan`; resolves once the launcher is written. */
export async function buildDirectory(o: { source: string; appDir: string; plan: BuildPlan; cacheDir: string; runSteps: StepRunner }): Promise<void> {
  copyContext(o.source, o.appDir, listContext(o.source));
  mkdirSync(join(o.cacheDir, 'home'), { recursive: true });
  await o.runSteps([...o.plan.hostCommands, ...o.plan.installCommands, ...o.plan.buildCommands, ...o.plan.pruneCommands ?? []]);
  // The steps could write anything into appDir, links included: Pier's own file goes in without following them.
  writeInsideBuild(o.appDir, LAUNCHER, planLauncher(o.plan), 0o755);
}
