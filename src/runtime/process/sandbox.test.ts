import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SANDBOX_HOSTS_DIR, SANDBOX_RESERVED_PATHS, STAGE_APP, STAGE_HOSTS, bwrapArgs, dropPrivilegesArgs, epochToIso, stageFstab, stageVolume } from './sandbox.ts';

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

test('root inside is mapped from the uid bubblewrap runs as, which setpriv made unprivileged without groups or privileges', () => {
  const a = bwrapArgs(opts);
  assert.deepEqual(a.slice(0, 6), ['--unshare-user', '--uid', '0', '--gid', '0', '--unshare-pid']);
  const drop = dropPrivilegesArgs(2_000_000_007);
  assert.ok(drop.includes('--reuid=2000000007') && drop.includes('--regid=2000000007'));
  for (const f of ['--clear-groups', '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all']) assert.ok(drop.includes(f), f);
  assert.equal(drop.at(-1), '--', 'bubblewrap follows');
});

test('/proc: knobs read-only, kernel memory and keys hidden, each after /proc is mounted', () => {
  const a = bwrapArgs({ ...opts, proc: { readOnly: ['/proc/sys', '/proc/fs'], hiddenFiles: ['/proc/kcore', '/proc/keys'], hiddenDirs: ['/proc/acpi'] } });
  const procAt = a.indexOf('--proc');
  for (const p of ['/proc/sys', '/proc/fs']) {
    assert.equal(pairAfter(a, '--ro-bind', p), p, `${p} read-only`);
    assert.ok(a.indexOf(p) > procAt, `${p} covered after the mount of /proc`);
  }
  for (const p of ['/proc/kcore', '/proc/keys']) assert.equal(a[a.indexOf(p) - 1], '/dev/null', `${p} hidden behind /dev/null`);
  assert.equal(a[a.indexOf('/proc/acpi') - 1], '--tmpfs');
  assert.equal(a[a.lastIndexOf('/proc/acpi') - 1], '--remount-ro', 'the empty directory is read-only');
  assert.ok(!a.includes('/sys'), 'no /sys at all');
});

test('the seccomp program is loaded last, from the given fd', () => {
  assert.ok(!bwrapArgs(opts).includes('--seccomp'));
  const a = bwrapArgs({ ...opts, seccompFd: 4 });
  assert.deepEqual(a.slice(a.indexOf('--seccomp'), a.indexOf('--seccomp') + 3), ['--seccomp', '4', '--']);
});

test('the stage fstab binds the app (and hosts) directory, escaping what fstab(5) would split on', () => {
  assert.equal(stageFstab('/data/app'), `/data/app ${STAGE_APP} none bind 0 0\n`);
  assert.equal(stageFstab('/data dir/a\\b\tc', '/state/networks/br'), `/data\\040dir/a\\134b\\011c ${STAGE_APP} none bind 0 0\n/state/networks/br ${STAGE_HOSTS} none bind 0 0\n`);
});

test('volumes: staged by the supervisor, then bound read-write at their paths after /app and /tmp', () => {
  assert.equal(stageFstab('/data/app', undefined, ['/pier/volumes/mnt/v1', '/pier/volumes/mnt/v 2']),
    `/data/app ${STAGE_APP} none bind 0 0\n/pier/volumes/mnt/v1 ${stageVolume(0)} none bind 0 0\n/pier/volumes/mnt/v\\0402 ${stageVolume(1)} none bind 0 0\n`);
  const a = bwrapArgs({ ...opts, tmpBytes: 1024, volumes: [{ source: stageVolume(0), target: '/data' }, { source: stageVolume(1), target: '/tmp/cache' }] });
  assert.equal(pairAfter(a, '--bind', stageVolume(0)), '/data');
  assert.equal(pairAfter(a, '--bind', stageVolume(1)), '/tmp/cache');
  assert.ok(a.indexOf('--bind') > a.indexOf('--tmpfs') && a.indexOf('--bind') > a.indexOf('/app'), 'binds come after the mounts they may sit under');
  assert.ok(a.indexOf('--bind') < a.indexOf('--'), 'before the app argv');
  for (const p of ['/usr', '/proc', '/app', '/etc', '/dev']) assert.ok(SANDBOX_RESERVED_PATHS.includes(p), p);
});
