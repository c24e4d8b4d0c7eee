import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectCgroupLayout } from '../runtime/process/cgroups.ts';
import { runStep } from './exec.ts';
import { openBuildCgroup } from './host-cgroup.ts';

const layout = (() => { try { return detectCgroupLayout(); } catch { return null; } })();
const why = !layout ? 'no cgroup hierarchy' : process.getuid?.() !== 0 ? 'needs root to create cgroups' : false;

test('host build steps run inside the build cgroup with its memory limit', { skip: why }, async () => {
  const name = `t-${randomUUID().slice(0, 8)}`;
  const notes: string[] = [];
  const cg = openBuildCgroup(name, { cpu: 1, memoryBytes: 256 * 1024 * 1024 }, (l) => notes.push(l));
  assert.ok(cg, `no cgroup: ${notes.join('; ')}`);
  try {
    const lines: string[] = [];
    await runStep(['/bin/sh', '-c', 'cat /proc/self/cgroup'], {
      cwd: '/', env: { PATH: '/usr/bin:/bin' }, signal: new AbortController().signal, onLine: (l) => lines.push(l), joinFiles: cg.joinFiles,
    });
    assert.ok(lines.some((l) => l.includes(`/pier-builds/${name}`)), lines.join('\n'));
    const memDir = cg.joinFiles.map((f) => join(f, '..')).find((d) => d.includes('memory')) ?? join(cg.joinFiles[0]!, '..');
    const limitFile = layout!.version === 'v2' ? join(memDir, 'memory.max') : join(memDir, 'memory.limit_in_bytes');
    assert.equal(readFileSync(limitFile, 'utf8').trim(), String(256 * 1024 * 1024));
  } finally {
    cg.close();
  }
});

test('a step without joinFiles runs as before', async () => {
  const lines: string[] = [];
  await runStep(['/bin/echo', 'plain'], { cwd: '/', env: { PATH: '/usr/bin:/bin' }, signal: new AbortController().signal, onLine: (l) => lines.push(l) });
  assert.deepEqual(lines, ['plain']);
});
