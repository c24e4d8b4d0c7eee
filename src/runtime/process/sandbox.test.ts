import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SANDBOX_HOSTS_DIR, bwrapArgs, epochToIso } from './sandbox.ts';

const opts = {
  appDir: '/srv/app', argv: ['/usr/bin/node', 'server.js'], hostname: 'pier-abc',
  rootEntries: [{ path: '/bin', kind: 'symlink' as const, target: 'usr/bin' }, { path: '/lib64', kind: 'dir' as const }],
};

function pairAfter(args: string[], flag: string, value: string): string | undefined {
  for (let i = 0; i < args.length; i++) if (args[i] === flag && args[i + 1] === value) return args[i + 2];
  return undefined;
}

test('the sandbox unshares pid/ipc/uts, drops capabilities and leaves the network to its namespace', () => {
  const a = bwrapArgs(opts);
  for (const f of ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session']) assert.ok(a.includes(f), f);
  assert.ok(!a.includes('--unshare-net') && !a.includes('--unshare-all'), 'the supervisor enters the instance namespace (or the host network) before bwrap');
  assert.equal(a[a.indexOf('--cap-drop') + 1], 'ALL');
  assert.deepEqual(a.slice(a.indexOf('--') + 1), ['/usr/bin/node', 'server.js']);
});

test('system dirs are read-only, symlinks stay symlinks, the app is read-only at /app, /tmp is private', () => {
  const a = bwrapArgs({ ...opts, tmpBytes: 1024, workdir: '/app/sub' });
  assert.equal(pairAfter(a, '--ro-bind', '/usr'), '/usr');
  assert.equal(pairAfter(a, '--symlink', 'usr/bin'), '/bin');
  assert.equal(pairAfter(a, '--ro-bind', '/lib64'), '/lib64');
  assert.equal(pairAfter(a, '--ro-bind', '/srv/app'), '/app');
  assert.equal(a[a.indexOf('--tmpfs') - 1], '1024', '--size precedes --tmpfs');
  assert.equal(a[a.indexOf('--chdir') + 1], '/app/sub');
  assert.ok(!a.includes('--bind'), 'nothing of the host is writable');
  assert.ok(!a.some((x) => x === '/etc' ), 'only selected /etc entries');
});

test('bash EPOCHREALTIME parses in both decimal conventions', () => {
  assert.equal(epochToIso('1700000000.123456'), '2023-11-14T22:13:20.123Z');
  assert.equal(epochToIso('1700000000,5'), '2023-11-14T22:13:20.500Z');
  assert.equal(epochToIso('garbage'), undefined);
});

test('with an app network, /etc/hosts is the network hosts file through a bound directory', () => {
  const plain = bwrapArgs(opts);
  assert.equal(pairAfter(plain, '--ro-bind-try', '/etc/hosts'), '/etc/hosts');
  const a = bwrapArgs({ ...opts, hostsDir: '/state/networks/pierbr1' });
  assert.equal(pairAfter(a, '--ro-bind-try', '/etc/hosts'), undefined, 'the host hosts file is not bound');
  assert.equal(pairAfter(a, '--ro-bind', '/state/networks/pierbr1'), SANDBOX_HOSTS_DIR);
  assert.equal(pairAfter(a, '--symlink', `${SANDBOX_HOSTS_DIR}/hosts`), '/etc/hosts');
  assert.ok(a.indexOf('--symlink') < a.indexOf('--'), 'before the app argv');
});
