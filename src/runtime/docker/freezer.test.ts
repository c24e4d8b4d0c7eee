import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerFreezer, freezerPath } from './freezer.ts';

const ID = 'a6ec58b22027d7722cd37541e22b720da9c320f6f525bd16b9e007cd74a5747b';
const V1 = `9:name=systemd:/docker/${ID}\n6:freezer:/docker/${ID}\n4:memory:/docker/${ID}\n0::/docker/${ID}\n`;

test('freezerPath: the v1 freezer line, or the unified line on a v2 host', () => {
  assert.equal(freezerPath(V1, 'v1'), `/docker/${ID}`);
  assert.equal(freezerPath(`0::/system.slice/docker-${ID}.scope\n`, 'v2'), `/system.slice/docker-${ID}.scope`);
  assert.equal(freezerPath('4:memory:/x\n0::/\n', 'v1'), undefined, 'no freezer hierarchy: none');
  assert.equal(freezerPath('6:freezer:/x\n', 'v2'), undefined, 'a v2 host reads the unified line only');
});

test('containerFreezer refuses a cgroup that does not name the container (a pid of another namespace, a bad id)', () => {
  const layout = { version: 'v1' as const, mounts: { memory: '/nonexistent/m', cpu: '/nonexistent/c', cpuacct: '/nonexistent/a', freezer: '/nonexistent/f' } };
  const other = 'b'.repeat(64);
  assert.equal(containerFreezer(other, 1234, { layout, procCgroup: V1 }), null, 'the cgroup of another container');
  assert.equal(containerFreezer(ID, 0, { layout, procCgroup: V1 }), null, 'no pid (not running)');
  assert.equal(containerFreezer('../x', 1234, { layout, procCgroup: V1 }), null);
  assert.equal(containerFreezer(ID, 1234, { layout: null, procCgroup: V1 }), null, 'no cgroup mounts here');
  assert.equal(containerFreezer(ID, 1234, { layout, procCgroup: `6:freezer:/docker/../${ID}\n` }), null);
  // The right container but no freezer file where the layout says (not mounted in this namespace): the engine decides.
  assert.equal(containerFreezer(ID, 1234, { layout, procCgroup: V1 }), null);
});

test('containerFreezer finds the container\'s freezer.state under the v1 freezer mount', () => {
  const root = mkdtempSync(join(tmpdir(), 'pier-freezer-'));
  try {
    const dir = join(root, 'docker', ID);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'freezer.state'), 'FROZEN\n');
    const layout = { version: 'v1' as const, mounts: { memory: join(root, 'm'), cpu: join(root, 'c'), cpuacct: join(root, 'a'), freezer: root } };
    const cg = containerFreezer(ID, 1234, { layout, procCgroup: V1 });
    assert.ok(cg);
    assert.equal(cg.frozen(), true, 'read from the container\'s own file');
    writeFileSync(join(dir, 'freezer.state'), 'THAWED\n');
    assert.equal(cg.frozen(), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
