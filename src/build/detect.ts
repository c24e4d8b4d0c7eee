// Buildpack detection: from the files of a source, decide the stack (Node, Python, Go, static site, Procfile) and the
// shell commands that install dependencies, build and run it. Pure: files are read through a FileView. Each stack's
// rules live in buildpacks/<stack>.ts; the order they are tried in is docs/buildpacks.md's.
import { goPlan } from './buildpacks/go.ts';
import { nodePlan } from './buildpacks/node.ts';
import { pythonPlan } from './buildpacks/python.ts';

export { GO_BINARY } from './buildpacks/go.ts';
export { planDockerfile, BUILD_FILES_DIR } from './buildpacks/dockerfile.ts';
import {
  NothingToRunError, execPrefixed, procfileCommand,
  type BuildPlan, type BuildTarget, type FileView, type PlanOverrides, type StackContext,
} from './plan.ts';
export {
  NothingToRunError, execPrefixed, hasRequirements, procfileCommand,
  type BuildPlan, type BuildTarget, type FileView, type PlanOverrides, type Stack, type StackContext,
} from './plan.ts';

/** Detects the stack of a source and plans its build; throws NothingToRunError when nothing would start. */
export function detectPlan(files: FileView, o: PlanOverrides, target: BuildTarget): BuildPlan {
  const procfile = procfileCommand(files.read('Procfile'), o.serviceType);
  const c: StackContext = {
    files, o, target, overrideRun: Boolean(o.runCommand?.trim() || procfile),
    chosen(fallback, stack) {
      const run = o.runCommand?.trim() || procfile || fallback;
      if (!run) throw new NothingToRunError(stack === 'procfile' ? 'source (no package.json, requirements.txt, pyproject.toml, go.mod or index.html found)' : `${stack} app`);
      return run;
    },
    build: (defaults) => o.buildCommand?.trim() ? [o.buildCommand.trim()] : defaults,
  };
  const base = { dependencyFiles: [] as string[], installCommands: [] as string[], hostCommands: [] as string[], runEnv: {} as Record<string, string> };

  const pkgText = files.read('package.json');
  if (pkgText !== undefined) return nodePlan(c, pkgText);
  if (['requirements.txt', 'pyproject.toml', 'setup.py', 'uv.lock', 'poetry.lock'].some((f) => files.exists(f))) return pythonPlan(c, o.pythonVersion);
  if (files.exists('go.mod')) return goPlan(c);
  if (files.exists('index.html')) {
    return { ...base, stack: 'static', runCommand: c.chosen('busybox httpd -f -p "${PORT:-8000}" -h /app', 'static'), buildCommands: c.build([]) };
  }
  return { ...base, stack: 'procfile', runCommand: c.chosen(undefined, 'procfile'), buildCommands: c.build([]) };
}

/** The launcher a directory build writes to .pier/run: cd into the app, set the run env, start the app. */
export function planLauncher(plan: BuildPlan): string {
  const env = Object.entries(plan.runEnv).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`);
  return ['#!/bin/sh', 'cd /app || exit 1', ...env, `exec /bin/sh -c '${execPrefixed(plan.runCommand).replace(/'/g, `'\\''`)}'`, ''].join('\n');
}
