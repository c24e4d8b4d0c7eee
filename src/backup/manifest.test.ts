import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupError } from './errors.ts';
import { BACKUP_FORMAT, checkSchema, compareMembers, parseManifest, validMemberName, type Manifest } from './manifest.ts';

const sha = (c: string) => c.repeat(64);
const manifest: Manifest = {
  format: BACKUP_FORMAT, pier_version: '0.1.0', schema_version: 7, created_at: '2026-01-01T00:00:00Z', installation_id: 'id',
  data_dir: '/var/lib/pier', database: 'sqlite', key_included: true, counts: { apps: 1 },
  members: [
    { name: 'pier.db', type: 'file', size: 10, sha256: sha('a') },
    { name: 'git', type: 'dir', size: 0 },
    { name: 'git/x.git/HEAD', type: 'file', size: 3, sha256: sha('b') },
  ],
};

function code(fn: () => unknown): string {
  try { fn(); } catch (err) { return err instanceof BackupError ? err.code : `not a BackupError: ${String(err)}`; }
  return 'no error';
}

test('member names: relative, no .., under a known top-level entry only', () => {
  for (const ok of ['pier.db', 'git/a.git/HEAD', 'builds/deployments/x/app', 'tls/local-ca/root.pem', 'archives/abc']) assert.equal(validMemberName(ok), true, ok);
  for (const bad of ['', '/etc/passwd', '../x', 'git/../../x', 'git//x', 'process/state.json', 'installation-id', 'git\\x', './pier.db']) assert.equal(validMemberName(bad), false, bad);
});

test('parseManifest accepts a good manifest and refuses bad ones by code', () => {
  assert.deepEqual(parseManifest(JSON.stringify(manifest)), manifest);
  const cases: [string, unknown][] = [
    ['not json', '{'],
    ['other format', { ...manifest, format: 99 }],
    ['no schema', { ...manifest, schema_version: undefined }],
    ['member escaping', { ...manifest, members: [...manifest.members, { name: '../etc/passwd', type: 'file', size: 1, sha256: sha('c') }] }],
    ['file without sha', { ...manifest, members: [...manifest.members, { name: 'tls/a', type: 'file', size: 1 }] }],
    ['no database', { ...manifest, members: manifest.members.slice(1) }],
  ];
  for (const [why, m] of cases) assert.equal(code(() => parseManifest(typeof m === 'string' ? m : JSON.stringify(m))), 'backup_manifest_invalid', why);
});

test('checkSchema refuses only a newer schema', () => {
  assert.equal(code(() => checkSchema(manifest, 7)), 'no error');
  assert.equal(code(() => checkSchema(manifest, 9)), 'no error');
  assert.equal(code(() => checkSchema(manifest, 6)), 'backup_schema_too_new');
});

test('compareMembers: any changed, missing, extra or repeated member is a checksum mismatch', () => {
  const seen = manifest.members.map((m) => ({ ...m }));
  assert.equal(code(() => compareMembers(manifest, seen)), 'no error');
  const cases: [string, typeof seen][] = [
    ['changed bytes', seen.map((m) => (m.name === 'pier.db' ? { ...m, sha256: sha('f') } : m))],
    ['changed size', seen.map((m) => (m.name === 'pier.db' ? { ...m, size: 11 } : m))],
    ['changed type', seen.map((m) => (m.name === 'git' ? { ...m, type: 'symlink' as const, sha256: sha('d') } : m))],
    ['missing', seen.slice(0, 2)],
    ['extra', [...seen, { name: 'tls/x', type: 'file', size: 1, sha256: sha('e') }]],
    ['repeated', [...seen, seen[2]!]],
  ];
  for (const [why, s] of cases) assert.equal(code(() => compareMembers(manifest, s)), 'backup_checksum_mismatch', why);
});
