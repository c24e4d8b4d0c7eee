import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAUNCHER_SCRIPT, supervisorLauncher } from './launcher.ts';
import { parentPid } from './state.ts';

const until = async (ok: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !ok() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
};

test('launcher: starts the program from its own small process, detached, with fd 3, fd 4, log, cwd and env as asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-launcher-'));
  try {
    const script = 'cat <&3 > fd3; cat <&4 > fd4; printf "%s %s\\n" "$PWD" "$ONLY" > seen; echo to-log; echo to-err >&2; sleep 1';
    const pid = await supervisorLauncher.launch({
      file: '/bin/sh', args: ['-c', script], cwd: dir, env: { ONLY: 'this', PATH: '/usr/bin:/bin' }, logPath: join(dir, 'log'),
      fd3: Buffer.from('A=1\0B=2\0'), fd4: Buffer.from([0, 1, 2, 255]),
    });
    assert.ok(pid > 0);
    // Not a fork of this process: the launcher is its parent, and the child leads its own session.
    assert.equal(parentPid(pid), supervisorLauncher.pid);
    assert.notEqual(parentPid(pid), process.pid);
    const sid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
    assert.equal(sid, pid);
    await until(() => { try { return statSync(join(dir, 'seen')).size > 0 && readFileSync(join(dir, 'log'), 'utf8').includes('to-err'); } catch { return false; } });
    assert.equal(readFileSync(join(dir, 'fd3'), 'utf8'), 'A=1\0B=2\0');
    assert.deepEqual([...readFileSync(join(dir, 'fd4'))], [0, 1, 2, 255]);
    assert.equal(readFileSync(join(dir, 'seen'), 'utf8'), `${dir} this\n`);
    assert.equal(readFileSync(join(dir, 'log'), 'utf8'), 'to-log\nto-err\n');
    assert.equal((statSync(join(dir, 'log')).mode & 0o777), 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('launcher: a program that cannot run is an error, and the launcher keeps serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-launcher-'));
  try {
    const req = { cwd: dir, env: {}, logPath: join(dir, 'log'), fd3: Buffer.alloc(0), fd4: Buffer.alloc(0) };
    await assert.rejects(supervisorLauncher.launch({ ...req, file: join(dir, 'missing'), args: [] }), /ENOENT/);
    assert.ok(await supervisorLauncher.launch({ ...req, file: '/bin/true', args: [] }) > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('launcher: keeps nothing of a request once its supervisor runs (its heap does not grow with the instances, issue #26)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-launcher-'));
  // The helper as the driver runs it, plus a way to ask for its heap after a full GC (a message without `id`, which
  // the helper itself answers with an error and otherwise ignores).
  writeFileSync(join(dir, 'probe.cjs'), "process.on('message', (m) => { if (m && m.heap) { global.gc(); process.send({ heap: process.memoryUsage().heapUsed }); } });\n");
  const helper = spawn(process.execPath, ['--expose-gc', '--require', join(dir, 'probe.cjs'), '-e', LAUNCHER_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { LC_ALL: 'C' } });
  const waiting = new Map<unknown, (m: { pid?: number; heap?: number; error?: string }) => void>();
  helper.on('message', (m: { id?: number; heap?: number }) => waiting.get(m.heap !== undefined ? 'heap' : m.id)?.(m));
  const ask = (key: unknown, msg: object) => new Promise<{ pid?: number; heap?: number; error?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the helper did not answer')), 10_000);
    waiting.set(key, (m) => { clearTimeout(timer); waiting.delete(key); resolve(m); });
    helper.send(msg);
  });
  // Sized like a sandbox's start, only larger: ~80 KB of argv, 32 KB on fd 3 (under a pipe's capacity: written at once).
  const bigArgs = Array.from({ length: 20 }, (_, i) => `${i}:${'a'.repeat(4000)}`);
  const fd3 = Buffer.alloc(32 * 1024, 0x41).toString('base64');
  const pids: number[] = [];
  const start = async (id: number) => {
    const m = await ask(id, { id, file: '/bin/sh', args: ['-c', 'exec sleep 30', 'sh', ...bigArgs], cwd: dir, env: { PATH: '/usr/bin:/bin', SECRET: 's'.repeat(8000) }, logPath: join(dir, 'log'), fd3, fd4: fd3 });
    assert.ok(m.pid && m.pid > 0, m.error);
    pids.push(m.pid);
  };
  try {
    await start(0); // warm: the first spawn loads code and allocates for good
    const before = (await ask('heap', { heap: true })).heap!;
    const count = 40;
    for (let i = 1; i <= count; i++) await start(i);
    const after = (await ask('heap', { heap: true })).heap!;
    // Holding each request would be ~150 KB per start here (6 MB); what stays is the ChildProcess (a few KB each).
    const perStart = (after - before) / count;
    assert.ok(perStart < 30_000, `the helper's heap grew ${Math.round(perStart)} bytes per start`);
  } finally {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    helper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
