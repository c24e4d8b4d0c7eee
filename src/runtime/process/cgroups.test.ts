import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceCgroup, cgroupJoinTuning, detectCgroupLayout } from './cgroups.ts';

const MOUNTINFO_V1 = [
  '30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
  '32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
  '33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:30 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
].join('\n');

test('detects v1 controllers (hybrid hosts count as v1) and co-mounted cpu,cpuacct', () => {
  assert.deepEqual(detectCgroupLayout(MOUNTINFO_V1), {
    version: 'v1',
    mounts: { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', pids: '/sys/fs/cgroup/pids' },
  });
  assert.equal(detectCgroupLayout('1 0 0:1 / / rw - ext4 /dev/vda rw'), null);
});

function fakeRoot(): string {
  return mkdtempSync(join(tmpdir(), 'pier-cgroup-test-'));
}

test('v2: limits land in memory.max, memory.swap.max and cpu.max, and read back', () => {
  const root = fakeRoot();
  try {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids');
    const cg = new InstanceCgroup({ version: 'v2', root }, 'pier', 'i-1');
    cg.create({ cpu: 0.5, memoryBytes: 64 * 1024 * 1024, pids: 50 });
    const dir = join(root, 'pier', 'i-1');
    assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8'), String(64 * 1024 * 1024));
    assert.equal(readFileSync(join(dir, 'memory.swap.max'), 'utf8'), '0');
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '50000 100000');
    assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8'), '50');
    assert.deepEqual(cg.limits(), { cpu: 0.5, memoryBytes: 64 * 1024 * 1024 });
    // A startup boost ending (or any change of the CPU limit of a live instance): cpu.max rewritten, 0 = no quota.
    cg.setCpu(0.25);
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '25000 100000');
    cg.setCpu(0);
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), 'max 100000');
    cg.setCpu(0.5);
    assert.deepEqual(cg.procsFiles(), [join(dir, 'cgroup.procs')]);
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
    assert.equal(cg.oomKilled(), true);
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\n');
    assert.equal(cg.cpuUsageNs(), 1_500_000);
    writeFileSync(join(dir, 'memory.current'), '5000');
    writeFileSync(join(dir, 'memory.stat'), 'anon 4000\ninactive_file 1000\n');
    assert.equal(cg.memoryBytes(), 4000);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('v1: one directory per controller, memsw equals the memory limit, cfs quota from vCPUs', () => {
  const root = fakeRoot();
  try {
    const mounts = { memory: join(root, 'memory'), cpu: join(root, 'cpu'), cpuacct: join(root, 'cpuacct'), pids: join(root, 'pids') };
    for (const m of Object.values(mounts)) mkdirSync(m);
    const cg = new InstanceCgroup({ version: 'v1', mounts }, 'pier', 'i-2');
    cg.create({ cpu: 1.5, memoryBytes: 1_000_000, pids: 7 });
    assert.equal(readFileSync(join(mounts.memory, 'pier/i-2/memory.limit_in_bytes'), 'utf8'), '1000000');
    assert.equal(readFileSync(join(mounts.memory, 'pier/i-2/memory.memsw.limit_in_bytes'), 'utf8'), '1000000');
    assert.equal(readFileSync(join(mounts.cpu, 'pier/i-2/cpu.cfs_quota_us'), 'utf8'), '150000');
    assert.equal(readFileSync(join(mounts.pids, 'pier/i-2/pids.max'), 'utf8'), '7');
    assert.deepEqual(cg.limits(), { cpu: 1.5, memoryBytes: 1_000_000 });
    cg.setCpu(0.25);
    assert.equal(readFileSync(join(mounts.cpu, 'pier/i-2/cpu.cfs_quota_us'), 'utf8'), '25000');
    assert.equal(cg.limits().cpu, 0.25);
    assert.equal(cg.procsFiles().length, 4);
    writeFileSync(join(mounts.memory, 'pier/i-2/memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    assert.equal(cg.oomKilled(), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('create refuses a hierarchy that is not mounted instead of inventing directories', () => {
  const cg = new InstanceCgroup({ version: 'v2', root: join(tmpdir(), 'pier-no-such-cgroup-root') }, 'pier', 'x');
  assert.throws(() => cg.create({ cpu: 1, memoryBytes: 1, pids: 1 }), /not mounted/);
});

test('v1 freezer: detected beside the others, the instance joins it, freeze and thaw write freezer.state (light sleep)', async () => {
  const layout = detectCgroupLayout(`${MOUNTINFO_V1}\n35 30 0:31 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer`);
  assert.equal(layout?.version === 'v1' && layout.mounts.freezer, '/sys/fs/cgroup/freezer');
  const root = fakeRoot();
  try {
    const mounts = { memory: join(root, 'memory'), cpu: join(root, 'cpu'), cpuacct: join(root, 'cpu'), freezer: join(root, 'freezer') };
    for (const m of Object.values(mounts)) mkdirSync(m, { recursive: true });
    const cg = new InstanceCgroup({ version: 'v1', mounts }, 'pier', 'i-1');
    assert.equal(cg.canFreeze(), false, 'no freezer.state before the cgroup exists');
    cg.create({ cpu: 1, memoryBytes: 1 << 20, pids: 10 });
    assert.ok(cg.procsFiles().includes(join(mounts.freezer, 'pier', 'i-1', 'cgroup.procs')), 'a sandbox joins the freezer cgroup too');
    const state = join(mounts.freezer, 'pier', 'i-1', 'freezer.state');
    writeFileSync(state, 'THAWED');
    await cg.setFrozen(true);
    assert.equal(readFileSync(state, 'utf8'), 'FROZEN');
    assert.equal(cg.frozen(), true);
    await cg.setFrozen(false);
    assert.equal(readFileSync(state, 'utf8'), 'THAWED');
    const none = new InstanceCgroup({ version: 'v1', mounts: { ...mounts, freezer: undefined } }, 'pier', 'i-1');
    await assert.rejects(none.setFrozen(true), /cannot be frozen/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroupJoinTuning reads favordynmods from the cgroup2 mount, and whether the kernel offers it', () => {
  const hybrid = [
    '35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  const features = 'nsdelegate\nfavordynmods\nmemory_localevents\n';
  assert.deepEqual(cgroupJoinTuning(hybrid, features), { mount: '/sys/fs/cgroup/unified', on: false });
  const unified = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,favordynmods,memory_recursiveprot';
  assert.deepEqual(cgroupJoinTuning(unified, features), { mount: '/sys/fs/cgroup', on: true });
  assert.deepEqual(cgroupJoinTuning(unified, undefined), { mount: '/sys/fs/cgroup', on: true }, 'on is on, whatever the features file says');
  assert.equal(cgroupJoinTuning(hybrid, 'nsdelegate\nmemory_localevents\n'), undefined, 'a kernel without the option: nothing to offer');
  assert.equal(cgroupJoinTuning(hybrid.split('\n')[0]!, features), undefined, 'no cgroup2 mount');
});
