// The shapes of a buildpack build (plan, overrides, what a stack's planner gets) and the small rules every stack
// shares. Apart from detect.ts so that buildpacks/<stack>.ts import them without importing detect.ts back.

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
  /** Run after the build: drop what only the build needed (devDependencies). */
  pruneCommands?: string[];
  /** Build commands run by Pier on the host before packaging (Go: the host's toolchain). */
  hostCommands: string[];
  /** Starts the app. */
  runCommand: string;
  /** Extra environment of the running app (e.g. PYTHONPATH for dependencies installed beside the app). */
  runEnv: Record<string, string>;
  /** Extra environment of the install and build steps only. */
  buildEnv?: Record<string, string>;
  /** Paths the host commands write that go into the image even when an ignore file lists them. */
  keepPaths?: string[];
}

/** User overrides from the git/archive source, and what the host offers. */
export interface PlanOverrides {
  buildCommand?: string; runCommand?: string; serviceType?: 'WEB' | 'WORKER';
  /** major.minor of the Python builds run (the host's python3); a project asking for another one fails clearly. */
  pythonVersion?: string;
}

/** What a stack's planner gets: the files, the overrides and the shared rules for run and build commands. */
export interface StackContext {
  files: FileView;
  o: PlanOverrides;
  target: BuildTarget;
  /** The run command: run_command, else the Procfile's, else the stack's default; throws NothingToRunError. */
  chosen(fallback: string | undefined, stack: Stack): string;
  /** The build commands: build_command when set, else the stack's defaults. */
  build(defaults: string[]): string[];
  /** Whether the run command comes from the user (run_command or Procfile) rather than the stack. */
  overrideRun: boolean;
}

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

/** `exec cmd` for a simple command (the app becomes PID 1 and gets SIGTERM); compound commands stay as they are. */
export function execPrefixed(cmd: string): string {
  return /[;&|\n]/.test(cmd) || /^\s*exec\s/.test(cmd) ? cmd : `exec ${cmd}`;
}
