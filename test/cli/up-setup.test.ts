import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../src/cli/args.ts';
import type { CliIO, Ctx } from '../../src/cli/command.ts';
import { runUp, upCommand, type HostSetup, type Platform } from '../../src/cli/commands/platform.ts';
import { decideSetup, isNoRuntimeError, setupStepLine, type HostFacts } from '../../src/cli/up-setup.ts';

/** The selector's error as src/runtime/select.ts throws it (a RuntimeError of kind unavailable). */
function noRuntime(): Error {
  const err = new Error('no runtime works on this host: Docker engine not reachable; process runtime: bwrap missing. Run `./pier setup --yes` (as root) to install and start Docker and bubblewrap');
  return Object.assign(err, { name: 'RuntimeError', kind: 'unavailable' });
}

const host = (over: Partial<HostFacts>): HostFacts => ({ isRoot: true, isDebian: true, launcher: './pier', noSetup: false, ...over });

test('decideSetup: install as root on Debian; otherwise the exact commands to run', () => {
  const rows: [Partial<HostFacts>, SetupRow][] = [
    [{}, { kind: 'install' }],
    [{ isRoot: false }, { kind: 'tell', has: ['  sudo ./pier setup --yes', '  ./pier up'] }],
    [{ noSetup: true }, { kind: 'tell', has: ['  ./pier setup --yes', '  ./pier up'] }],
    [{ isDebian: false }, { kind: 'tell', has: ['then run: ./pier up'] }],
    [{ isDebian: false, isRoot: false, launcher: 'pier' }, { kind: 'tell', has: ['then run: pier up'] }],
  ];
  for (const [over, want] of rows) {
    const got = decideSetup(host(over));
    assert.equal(got.kind, want.kind, JSON.stringify(over));
    if (got.kind === 'tell') for (const line of want.has ?? []) assert.ok(got.lines.includes(line), `${JSON.stringify(over)}: ${got.lines.join(' | ')}`);
  }
  assert.equal(isNoRuntimeError(noRuntime()), true);
  assert.equal(isNoRuntimeError(new Error('no runtime works')), false, 'only the runtime selector\'s failure');
  assert.equal(isNoRuntimeError(Object.assign(new Error('engine gone'), { name: 'RuntimeError', kind: 'unavailable' })), false);
});

interface SetupRow { kind: string; has?: string[] }

test('setup-host lines become numbered steps; other output is not a step', () => {
  assert.equal(setupStepLine('setup-host: installing: bubblewrap docker.io'), '[1/3] installing: bubblewrap docker.io');
  assert.equal(setupStepLine('setup-host: cgroup v2 (unified)'), '[2/3] cgroup v2 (unified)');
  const tuned = 'cgroup2 favordynmods on (/sys/fs/cgroup/unified; was rw,relatime): instance starts no longer wait for an RCU grace period to join their cgroups';
  assert.equal(setupStepLine(`setup-host: ${tuned}`), `[2/3] ${tuned}`, 'the cgroup-join tuning is part of the kernel step');
  assert.equal(setupStepLine('setup-host: starting dockerd  (log: /var/lib/pier-host/dockerd.log)'), '[3/3] starting dockerd  (log: /var/lib/pier-host/dockerd.log)');
  assert.equal(setupStepLine('Get:1 http://deb.debian.org/debian bookworm InRelease'), undefined);
});

/** Runs `pier up` with a platform whose first start finds no runtime, and a host setup that records its runs. */
async function upOnFreshHost(facts: Partial<HostFacts>, setupCode = 0): Promise<{ code: number | Error; calls: string[]; lines: string[] }> {
  const calls: string[] = [];
  const handlers = new Set<() => void>();
  let starts = 0;
  const platform: Platform = {
    loadConfig: () => ({}),
    startPier: async () => {
      calls.push('startPier');
      if (starts++ === 0) throw noRuntime();
      setTimeout(() => handlers.forEach((h) => h()), 5);
      return { apiUrl: 'http://127.0.0.1:7700', close: () => void calls.push('close') };
    },
  };
  const setup: HostSetup = { facts: () => host(facts), run: async () => (calls.push('setup'), setupCode) };
  const lines: string[] = [];
  const io = { env: {}, onInterrupt: (h: () => void) => (handlers.add(h), () => handlers.delete(h)) } as unknown as CliIO;
  const ctx = { io, args: parseArgs([], upCommand.flags!), err: (l: string) => lines.push(l), out: (l: string) => lines.push(l) } as unknown as Ctx;
  const code = await runUp(ctx, platform, setup).catch((err: Error) => err);
  return { code, calls, lines };
}

test('pier up on a fresh Debian host as root: sets the host up, then starts', async () => {
  const r = await upOnFreshHost({});
  assert.equal(r.code, 0);
  assert.deepEqual(r.calls, ['startPier', 'setup', 'startPier', 'close']);
  assert.match(r.lines.join('\n'), /Installing what Pier needs/);
  assert.match(r.lines.join('\n'), /Pier is up: API http:\/\/127\.0\.0\.1:7700/);
});

test('pier up when setup fails, or when not root: nothing more is started, the error says what to run', async () => {
  const failed = await upOnFreshHost({}, 100);
  assert.deepEqual(failed.calls, ['startPier', 'setup']);
  assert.match(String((failed.code as Error).message), /the host setup failed \(exit 100\)/);
  const user = await upOnFreshHost({ isRoot: false });
  assert.deepEqual(user.calls, ['startPier'], 'nothing is installed without root');
  const err = user.code as Error & { details: string[] };
  assert.match(err.message, /^no runtime works on this host/);
  assert.ok(err.details.includes('  sudo ./pier setup --yes'), err.details.join('\n'));
});

test('runSetupScript prints the steps as they come and, when the script fails, its last output', async () => {
  const { runSetupScript } = await import('../../src/cli/up-setup.ts');
  const script = [
    'echo "setup-host: installing: bubblewrap" >&2',
    'echo "Reading package lists..." >&2',
    'echo "E: Unable to locate package bubblewrap" >&2',
    'exit 100',
  ].join('\n');
  for (const tty of [false, true]) {
    let stderr = '';
    const io = { env: {}, now: () => Date.now(), stderrIsTTY: tty, stderr: (t: string) => void (stderr += t) } as unknown as CliIO;
    const ctx = { io, err: (l: string) => io.stderr(`${l}\n`) } as unknown as Ctx;
    const code = await runSetupScript(ctx, ['bash', '-c', script]);
    assert.equal(code, 100);
    const lasting = stderr.replace(/\r\x1b\[2K[^\n\r]*(?=\r|$)/g, '').replace(/\r\x1b\[2K/g, '');
    assert.equal(lasting, '[1/3] installing: bubblewrap\n  | Reading package lists...\n  | E: Unable to locate package bubblewrap\n');
    if (!tty) assert.doesNotMatch(stderr, /\r|\x1b/);
  }
});
