// What `pier up` does when no runtime works on this host: as root on Debian it runs the host setup (the same
// scripts/setup-host.sh as `pier setup --yes`) with one line per step and a progress line, then starts; anywhere
// else it says exactly what to run. The decision is a pure function of the host's facts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Ctx } from './command.ts';
import { formatDuration } from './duration.ts';

/** What the decision needs to know about the host. */
export interface HostFacts {
  isRoot: boolean;
  /** Debian or a derivative with apt-get: the setup script installs Debian's packages. */
  isDebian: boolean;
  /** How the user started Pier (`./pier` from a clone, else `pier`), for the commands we print. */
  launcher: string;
  /** `pier up --no-setup`: never install anything, only say what to do. */
  noSetup: boolean;
}

/** Install now, or tell the user what to run (lines to print; the command then fails). */
export type SetupDecision = { kind: 'install' } | { kind: 'tell'; lines: string[] };

/** Whether a start-up failure is "no runtime works on this host" (the runtime selector's `unavailable` failure). */
export function isNoRuntimeError(err: unknown): boolean {
  const e = err as { name?: string; kind?: string; message?: string } | undefined;
  return e?.name === 'RuntimeError' && e.kind === 'unavailable' && /no runtime works/.test(e.message ?? '');
}

/** Decides what `pier up` does about a host where no runtime works. */
export function decideSetup(h: HostFacts): SetupDecision {
  if (h.isRoot && h.isDebian && !h.noSetup) return { kind: 'install' };
  if (h.isDebian) {
    const sudo = h.isRoot ? '' : 'sudo ';
    return {
      kind: 'tell',
      lines: [
        h.noSetup ? 'Nothing was installed (--no-setup). To install Docker and the sandbox tools, run:' : 'Installing needs root. Run:',
        `  ${sudo}${h.launcher} setup --yes`,
        `  ${h.launcher} up`,
      ],
    };
  }
  return {
    kind: 'tell',
    lines: [
      'This host is not Debian, so Pier cannot install what it needs itself. Either:',
      '  - install Docker Engine (https://docs.docker.com/engine/install/) and start it (the user running Pier must reach /var/run/docker.sock), or',
      '  - install bubblewrap, iproute2 and iptables (as root) for the sandboxed process runtime;',
      `then run: ${h.launcher} up`,
    ],
  };
}

/** The facts of this machine. */
export function hostFacts(env: Record<string, string | undefined>, noSetup: boolean): HostFacts {
  return {
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    isDebian: existsSync('/etc/debian_version') && ['/usr/bin/apt-get', '/bin/apt-get'].some((p) => existsSync(p)),
    launcher: env.PIER_LAUNCHER || 'pier',
    noSetup,
  };
}

/** The setup script's steps, in order, and the words of its `setup-host:` lines that belong to each. */
const STEPS: { name: string; match: RegExp }[] = [
  { name: 'packages', match: /^(installing|packages present)/ },
  { name: 'kernel', match: /^(cgroup|mounting cgroup|allowing|WARNING)/ },
  { name: 'engine', match: /docker engine|dockerd/ },
];

/** A `setup-host: ...` line as a numbered step (`[1/3] installing: docker.io`), or undefined for other output. */
export function setupStepLine(line: string): string | undefined {
  const m = /^setup-host: (.*)$/.exec(line);
  if (!m) return undefined;
  const text = m[1]!;
  const i = STEPS.findIndex((s) => s.match.test(text));
  return i < 0 ? `      ${text}` : `[${i + 1}/${STEPS.length}] ${text}`;
}

/**
 * Runs the setup script: its step lines are printed as they come; the package manager's chatter drives a live
 * progress line on a terminal and is kept (the last 30 lines) to show if the script fails. Returns its exit code.
 */
export function runSetupScript(ctx: Ctx, argv: string[]): Promise<number> {
  const started = ctx.io.now();
  const live = ctx.io.stderrIsTTY;
  const tail: string[] = [];
  let last = '';
  const status = (): void => {
    if (!live) return;
    const seconds = Math.floor((ctx.io.now() - started) / 1000);
    const elapsed = seconds ? formatDuration(seconds * 1000) : '0s';
    const text = `  … ${elapsed} ${last}`.slice(0, Math.max(20, (process.stderr.columns || 80) - 1));
    ctx.io.stderr(`\r\x1b[2K${text}`);
  };
  const clear = (): void => {
    if (live) ctx.io.stderr('\r\x1b[2K');
  };
  return new Promise<number>((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = live ? setInterval(status, 200) : undefined;
    let pending = '';
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const step = setupStepLine(line);
        if (step) {
          clear();
          ctx.err(step);
          status();
        } else if (line.trim()) {
          last = line.trim();
          tail.push(line);
          if (tail.length > 30) tail.shift();
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      if (timer) clearInterval(timer);
      clear();
      ctx.err(`could not run ${argv.join(' ')}: ${err.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      clear();
      const rc = signal ? 1 : code ?? 1;
      if (rc !== 0) for (const l of tail) ctx.err(`  | ${l}`);
      resolve(rc);
    });
  });
}
