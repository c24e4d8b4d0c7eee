// Buildpack detection: from the files of a source, decide the stack (Node, Python, Go, static site, Procfile) and the
// shell commands that install dependencies, build and run it. Pure: files are read through a FileView.

/** Read-only view of a source tree (context-relative paths). */
export interface FileView {
  exists(path: string): boolean;
  read(path: string): string | undefined;
}

/** Where the build's output runs: a container image, or a prepared directory for the process runtime. */
export type BuildTarget = 'image' | 'directory';

/** The stacks the buildpack builder knows. */
export type Stack = 'node' | 'python' | 'go' | 'static' | 'procfile';

/** What a buildpack build does. Commands are the app's own shell commands (the user's to write), run with sh -c. */
export interface BuildPlan {
  stack: Stack;
  /** Files copied before the rest so the dependency install is cached while they do not change. */
  dependencyFiles: string[];
  /** Installs dependencies (after dependencyFiles are in place). */
  installCommands: string[];
  /** Build commands (after the whole source is in place). */
  buildCommands: string[];
  /** Build commands run by Pier on the host before packaging (Go: the host's toolchain). */
  hostCommands: string[];
  /** Starts the app. */
  runCommand: string;
  /** Extra environment of the running app (e.g. PYTHONPATH for dependencies installed beside the app). */
  runEnv: Record<string, string>;
}

/** User overrides from the git/archive source. */
export interface PlanOverrides { buildCommand?: string; runCommand?: string; serviceType?: 'WEB' | 'WORKER' }

/** Where the Go builder puts the binary, relative to the app directory. */
export const GO_BINARY = '.pier/bin/app';

/** A build that cannot produce anything to run; the message names the fix. */
export class NothingToRunError extends Error {
  constructor(stack: string) {
    super(`nothing to run in this ${stack}: add a Procfile with a "web:" line (or "worker:"), set run_command on the service, or make the service a worker with a run command`);
    this.name = 'NothingToRunError';
  }
}

/** The process of a Procfile for this service type: web for WEB, worker for WORKER, else the only entry. */
export function procfileCommand(text: string | undefined, serviceType: 'WEB' | 'WORKER' = 'WEB'): string | undefined {
  if (!text) return undefined;
  const entries = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([\w-]+)\s*:\s*(.+)$/.exec(line.trim());
    if (m && !line.trim().startsWith('#')) entries.set(m[1], m[2].trim());
  }
  const wanted = serviceType === 'WORKER' ? 'worker' : 'web';
  return entries.get(wanted) ?? (entries.size === 1 ? [...entries.values()][0] : undefined);
}

/** Whether a requirements file names at least one requirement. */
export function hasRequirements(text: string | undefined): boolean {
  return (text ?? '').split(/\r?\n/).some((l) => l.trim() && !l.trim().startsWith('#'));
}

interface PackageJson { main?: string; scripts?: Record<string, string>; dependencies?: object; devDependencies?: object }

function parsePackage(text: string): PackageJson {
  try { return JSON.parse(text) as PackageJson; } catch (err) { throw new Error(`package.json is not valid JSON: ${(err as Error).message}`); }
}

/** Detects the stack of a source and plans its build; throws NothingToRunError when nothing would start. */
export function detectPlan(files: FileView, o: PlanOverrides, target: BuildTarget): BuildPlan {
  const procfile = procfileCommand(files.read('Procfile'), o.serviceType);
  const chosen = (fallback: string | undefined, stack: Stack) => {
    const run = o.runCommand?.trim() || procfile || fallback;
    if (!run) throw new NothingToRunError(stack === 'procfile' ? 'source (no package.json, requirements.txt, go.mod or index.html found)' : `${stack} app`);
    return run;
  };
  const build = (defaults: string[]) => o.buildCommand?.trim() ? [o.buildCommand.trim()] : defaults;
  const base = { dependencyFiles: [] as string[], installCommands: [] as string[], hostCommands: [] as string[], runEnv: {} as Record<string, string> };

  const pkgText = files.read('package.json');
  if (pkgText !== undefined) {
    const pkg = parsePackage(pkgText);
    const deps = Object.keys(pkg.dependencies ?? {}).length + Object.keys(pkg.devDependencies ?? {}).length > 0;
    const lock = files.exists('package-lock.json') || files.exists('npm-shrinkwrap.json');
    const install = deps ? [lock ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund'] : [];
    const entry = [pkg.main, 'server.js', 'index.js', 'app.js'].find((f) => f && files.exists(f));
    const run = pkg.scripts?.start ? 'npm start' : entry ? `node ${entry}` : undefined;
    return {
      ...base, stack: 'node', runCommand: chosen(run, 'node'),
      dependencyFiles: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'].filter((f) => files.exists(f)),
      installCommands: install, buildCommands: build(pkg.scripts?.build ? ['npm run build'] : []),
    };
  }
  const requirements = files.read('requirements.txt');
  if (requirements !== undefined || files.exists('pyproject.toml')) {
    const into = target === 'directory' ? ' --target .pydeps' : '';
    const install = hasRequirements(requirements) ? [`python3 -m pip install --no-input --disable-pip-version-check${into} -r requirements.txt`]
      : requirements === undefined ? [`python3 -m pip install --no-input --disable-pip-version-check${into} .`] : [];
    const entry = ['app.py', 'main.py', 'server.py'].find((f) => files.exists(f));
    return {
      ...base, stack: 'python', runCommand: chosen(entry ? `python3 ${entry}` : undefined, 'python'),
      dependencyFiles: requirements !== undefined ? ['requirements.txt'] : [], installCommands: install,
      buildCommands: build([]), runEnv: target === 'directory' ? { PYTHONPATH: '/app/.pydeps', PYTHONUNBUFFERED: '1' } : { PYTHONUNBUFFERED: '1' },
    };
  }
  if (files.exists('go.mod')) {
    return {
      ...base, stack: 'go', runCommand: chosen(`./${GO_BINARY}`, 'go'), buildCommands: [],
      hostCommands: o.buildCommand?.trim() ? [o.buildCommand.trim()] : [`go build -trimpath -o ${GO_BINARY} .`],
    };
  }
  if (files.exists('index.html')) {
    return { ...base, stack: 'static', runCommand: chosen('busybox httpd -f -p "${PORT:-8000}" -h /app', 'static'), buildCommands: build([]) };
  }
  return { ...base, stack: 'procfile', runCommand: chosen(undefined, 'procfile'), buildCommands: build([]) };
}

/** Quotes a string for a JSON-form Dockerfile instruction. */
function json(args: string[]): string { return JSON.stringify(args); }

/** The Dockerfile that builds a plan into an image on top of the stack's base image. */
export function planDockerfile(plan: BuildPlan, baseImage: string): string {
  const lines = [`FROM ${baseImage}`, 'WORKDIR /app'];
  for (const [k, v] of Object.entries(plan.runEnv)) lines.push(`ENV ${k}=${JSON.stringify(v)}`);
  if (plan.dependencyFiles.length && plan.installCommands.length) lines.push(`COPY ${json([...plan.dependencyFiles, '/app/'])}`);
  for (const c of plan.installCommands) lines.push(`RUN ${json(['/bin/sh', '-c', c])}`);
  lines.push('COPY . /app/');
  for (const c of plan.buildCommands) lines.push(`RUN ${json(['/bin/sh', '-c', c])}`);
  lines.push(`CMD ${json(['/bin/sh', '-c', execPrefixed(plan.runCommand)])}`);
  return lines.join('\n') + '\n';
}

/** `exec cmd` for a simple command (the app becomes PID 1 and gets SIGTERM); compound commands stay as they are. */
export function execPrefixed(cmd: string): string {
  return /[;&|\n]/.test(cmd) || /^\s*exec\s/.test(cmd) ? cmd : `exec ${cmd}`;
}

/** The launcher a directory build writes to .pier/run: cd into the app, set the run env, start the app. */
export function planLauncher(plan: BuildPlan): string {
  const env = Object.entries(plan.runEnv).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`);
  return ['#!/bin/sh', 'cd /app || exit 1', ...env, `exec /bin/sh -c '${execPrefixed(plan.runCommand).replace(/'/g, `'\\''`)}'`, ''].join('\n');
}
