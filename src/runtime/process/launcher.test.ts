import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supervisorLauncher } from './launcher.ts';
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
