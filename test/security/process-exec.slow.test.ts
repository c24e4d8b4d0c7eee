// Attacks from an `instances exec` shell on the process runtime (issue #18): the command must land inside the
// instance's sandbox, never beside it. From the exec: the host's files (directly and through /proc/<pid>/root), the
// host's processes, host sysctls, new namespaces, the read-only app and system directories, a controlling terminal,
// the host's environment. Also: the exec carries the app's own credentials (same host uid, no capabilities,
// no_new_privs, seccomp), runs in the instance's cgroup, and dies when the instance stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecSession } from '../../src/runtime/contract.ts';
import { InstanceCgroup, detectCgroupLayout } from '../../src/runtime/process/cgroups.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { prepareTestAppDir } from '../../src/runtime/testing/images.ts';

const CGROUP_PARENT = 'pier-exec-attack';
const root = process.getuid?.() === 0;

async function collect(s: ExecSession, input?: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  s.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  s.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  if (input !== undefined) s.stdin.write(Buffer.from(input));
  s.stdin.end();
  return { code: await s.exit, out, err };
}

test('process runtime: an exec shell stays inside its instance\'s sandbox', { skip: !root && 'the process runtime needs root', timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-exec-attack-'));
  const rt = new ProcessRuntime({ stateDir: join(dir, 'state'), cgroupParent: CGROUP_PARENT, log: () => {} });
  const app = prepareTestAppDir(dir);
  // A host file the tenant must never read: outside everything the sandbox binds (/var is not bound at all).
  const marker = `/var/tmp/pier-exec-marker-${randomBytes(6).toString('hex')}`;
  writeFileSync(marker, 'host-secret\n', { mode: 0o644 });
  const instanceId = `exec-attack-${randomBytes(4).toString('hex')}`;
  const h = await rt.start({
    instanceId, labels: { app_id: 'exec-attack' }, appDir: app.dir, entrypoint: app.entrypoint, command: ['sleep'],
    env: { GREETING: 'app-env' }, ports: [8000], cpu: 0.5, memoryBytes: 128 << 20,
  });
  t.after(async () => {
    await rt.remove(h.runtimeId).catch(() => undefined);
    rmSync(marker, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const sh = async (script: string, input?: string) => collect(await rt.exec(h.runtimeId, { command: ['sh', '-c', script], tty: false }), input);

  await t.test('the host\'s files are out of reach, also through /proc/<pid>/root', async () => {
    const r = await sh(`cat ${marker}; for p in /proc/[0-9]*; do cat "$p/root${marker}"; done; ls /proc/1/root/`);
    assert.doesNotMatch(r.out, /host-secret/, r.out);
    assert.match(r.out, /\bapp\b/, `the sandbox's root should be what /proc/1/root shows: ${r.out}`);
  });
  await t.test('the host\'s processes are invisible (own pid namespace)', async () => {
    const r = await sh('for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline"; echo; done');
    const lines = r.out.split('\n').filter((l) => l.trim());
    assert.ok(lines.length > 0 && lines.length < 10, `processes seen from the exec: ${r.out}`);
    // Inside: bubblewrap's init (pid 1), the app, the exec. Never Pier itself, the exec's host-side chain or the supervisor.
    const programs = lines.map((l) => l.split(' ')[0]!.split('/').pop());
    for (const host of ['node', 'nsenter', 'setpriv', 'bash', 'unshare', 'dockerd', 'containerd', 'python3']) {
      assert.ok(!programs.includes(host), `a host process (${host}) is visible from the exec: ${r.out}`);
    }
  });
  await t.test('host sysctls cannot be written', async () => {
    const before = readFileSync('/proc/sys/vm/swappiness', 'utf8');
    const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const r = await sh('echo 1 > /proc/sys/vm/swappiness && echo wrote-swappiness; echo "|/tmp/x" > /proc/sys/kernel/core_pattern && echo wrote-core');
    assert.doesNotMatch(r.out, /wrote-/, r.out);
    assert.equal(readFileSync('/proc/sys/vm/swappiness', 'utf8'), before);
    assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), pattern);
  });
  await t.test('the exec has the app\'s credentials: its own unprivileged host uid, no capabilities, no_new_privs, seccomp', async () => {
    const r = await sh('grep -E "^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp|Groups):" /proc/self/status; echo ---; grep -E "^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp|Groups):" /proc/2/status; echo ---; cat /proc/self/uid_map /proc/self/gid_map');
    const [mine, appStatus, maps] = r.out.split('---\n');
    assert.equal(mine, appStatus, r.out);
    assert.match(mine!, /CapEff:\s+0000000000000000/);
    assert.match(mine!, /CapBnd:\s+0000000000000000/);
    assert.match(mine!, /NoNewPrivs:\s+1/);
    assert.match(mine!, /Seccomp:\s+2/);
    assert.match(mine!, /Groups:\s*\n/, 'no supplementary groups');
    const hostIds = maps!.trim().split('\n').map((l) => Number(l.trim().split(/\s+/)[1]));
    assert.equal(hostIds.length, 2, maps);
    for (const id of hostIds) assert.ok(id >= 2_000_000_000, `the exec maps to host id ${id}, not an instance's own unprivileged id`);
  });
  await t.test('no new namespaces, no writes to /app or /usr, no controlling terminal, no host environment', async () => {
    const r = await sh('unshare -U true && echo unshared; unshare -m true && echo unshared-mnt; touch /app/x && echo wrote-app; touch /usr/x && echo wrote-usr; '
      + 'awk \'{print "tty_nr=" $7}\' /proc/self/stat; env');
    assert.doesNotMatch(r.out, /unshared|wrote-/, r.out);
    assert.match(r.out, /tty_nr=0\n/, 'the exec must not share a controlling terminal with anyone');
    assert.match(r.out, /GREETING=app-env/, 'the exec sees the app\'s environment');
    assert.doesNotMatch(r.out, /PIER_TEST=|NODE_OPTIONS=|KOYEB_CLI_BIN=/, 'the host\'s environment leaked into the exec');
  });
  await t.test('an exec right after start lands in the finished sandbox, never in one being built', async () => {
    // bubblewrap's init sees a copy of the host's root until pivot_root: entering it then would show the host's files.
    for (let i = 0; i < 3; i++) {
      const id = `${instanceId}-early-${i}`;
      const early = await rt.start({ instanceId: id, labels: { app_id: 'exec-attack' }, appDir: app.dir, entrypoint: app.entrypoint, command: ['sleep'], env: {}, ports: [], cpu: 0.5, memoryBytes: 64 << 20 });
      try {
        const r = await collect(await rt.exec(early.runtimeId, { command: ['sh', '-c', `ls /; cat ${marker}`], tty: false }));
        assert.match(r.out, /\bapp\b/, r.out + r.err);
        assert.doesNotMatch(r.out, /host-secret|\bvar\b|\bhome\b|\broot\b/, r.out);
      } finally {
        await rt.remove(early.runtimeId);
      }
    }
  });
  await t.test('the exec runs in the instance\'s cgroup and dies with the instance', async () => {
    const cg = new InstanceCgroup(detectCgroupLayout()!, CGROUP_PARENT, h.runtimeId);
    const s = await rt.exec(h.runtimeId, { command: ['sleep', '300'], tty: false });
    s.stdout.resume();
    s.stderr.resume();
    const isSleep = (pid: number) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000300\u0000'; } catch { return false; } };
    let found: number | undefined;
    for (let i = 0; i < 100 && found === undefined; i++) {
      found = cg.pids().find(isSleep);
      if (found === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(found, 'the exec\'s process is not in the instance\'s cgroup');
    await rt.stop(h.runtimeId, 1000);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([s.exit, new Promise<string>((r) => { timer = setTimeout(() => r('still running'), 15_000); })]);
    clearTimeout(timer);
    assert.notEqual(code, 'still running');
    assert.notEqual(code, 0);
    assert.ok(!isSleep(found), 'the exec outlived its instance');
    await assert.rejects(rt.exec(h.runtimeId, { command: ['true'], tty: false }), /not running/);
  });
});
