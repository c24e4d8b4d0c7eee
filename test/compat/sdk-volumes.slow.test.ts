// Koyeb's Python SDK against a real Pier, volumes and snapshots (issue #20): test/compat/sdk_volumes.py drives them
// through the SDK's generated PersistentVolumesApi and SnapshotsApi; each of its steps is a subtest here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { koyebSdkPython, repoRoot } from './clients.ts';
import { dockerAnswers, startCompatPier } from './pier.ts';

interface StepReport { step: string; status: 'ok' | 'failed' | 'blocked'; error?: string; detail?: string }

const python = koyebSdkPython();
const skip = 'error' in python ? `koyeb-sdk absent: ${python.error}`
  : process.getuid?.() !== 0 ? 'volumes need root (loop devices)'
  : !(await dockerAnswers()) ? 'Docker engine not reachable (run scripts/setup-host.sh)' : false;

test('Koyeb Python SDK: volumes and snapshots against a real Pier', { skip, timeout: 300_000 }, async (t) => {
  if ('error' in python) return;
  const pier = await startCompatPier();
  const api = async (method: string, p: string) => {
    const res = await fetch(pier.apiUrl + p, { method, headers: { authorization: `Bearer ${pier.token}` } });
    return (await res.json()) as any;
  };
  t.after(async () => {
    // Whatever the flow left (a failed step): services first, then volumes, so no loop mount outlives the suite.
    for (const s of (await api('GET', '/v1/services?limit=100')).services ?? []) if (s.status !== 'DELETED') await api('DELETE', `/v1/services/${s.id}`);
    for (let i = 0; i < 120 && ((await api('GET', '/v1/services?limit=100')).services ?? []).some((s: any) => s.status !== 'DELETED'); i++) await new Promise((r) => setTimeout(r, 500));
    for (const v of (await api('GET', '/v1/volumes?limit=100')).volumes ?? []) await api('DELETE', `/v1/volumes/${v.id}`);
    for (const s of (await api('GET', '/v1/snapshots?limit=100')).snapshots ?? []) await api('DELETE', `/v1/snapshots/${s.id}`);
    for (let i = 0; i < 60 && ((await api('GET', '/v1/volumes?limit=100')).volumes ?? []).length > 0; i++) await new Promise((r) => setTimeout(r, 500));
    await pier.close();
  });
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(python.path, [path.join(repoRoot, 'test/compat/sdk_volumes.py')], {
      env: { ...process.env, PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token, PIER_COMPAT_IMAGE: pier.image, PIER_COMPAT_PORT: String(pier.port) },
      timeout: 240_000, maxBuffer: 8 << 20,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
  const reports = out.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as StepReport);
  for (const r of reports) {
    await t.test(r.step, () => { if (r.status !== 'ok') assert.fail(`${r.status}: ${r.error}\n${r.detail ?? ''}`); });
  }
  await t.test('sdk_volumes.py ran every step', () => {
    assert.equal(out.code, 0, out.stderr.slice(-3000));
    assert.equal(reports.length, 8, out.stdout + out.stderr.slice(-3000));
  });
});
