// Secrets at rest: the raw database never holds a value; `pier rotate-master-key` re-encrypts everything atomically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { main as cli } from '../../src/cli/main.ts';
import { encryptSecret } from '../../src/store/crypto.ts';
import { openStore } from '../../src/store/store.ts';
import { revealSecret } from '../../src/store/secrets.ts';

const VALUE = 'correct-horse-battery-staple-4f1d';

function rawFiles(dir: string): string {
  return readdirSync(dir).filter((f) => f.startsWith('pier.db')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
}

async function withPier<T>(dir: string, fn: (req: (m: string, p: string, b?: unknown) => Promise<any>) => Promise<T>): Promise<T> {
  const pier = await startPier(loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0' }, {}), { log: () => {}, components: () => [] });
  const { token } = JSON.parse(readFileSync(pier.credentialsPath, 'utf8')) as { token: string };
  try {
    return await fn(async (m, p, b) => {
      const r = await fetch(pier.apiUrl + p, { method: m, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: b === undefined ? undefined : JSON.stringify(b) });
      return { status: r.status, body: await r.json() };
    });
  } finally {
    await pier.close();
  }
}

test('secret values never in the raw database; key rotation re-encrypts every value and swaps the key file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-rot-'));
  try {
    const id = await withPier(dir, async (req) => {
      const r = await req('POST', '/v1/secrets', { name: 'db-pass', type: 'SIMPLE', value: VALUE });
      assert.equal(r.status, 200);
      await req('POST', '/v1/secrets', { name: 'other', type: 'SIMPLE', value: 'v2' });
      return r.body.secret.id as string;
    });
    assert.ok(!rawFiles(dir).includes(VALUE), 'raw SQLite files do not contain the value');
    const oldKey = readFileSync(join(dir, 'master.key'), 'utf8');

    const err: string[] = [];
    const code = await cli(['rotate-master-key', '--data-dir', dir], { stdout: () => {}, stderr: (s: string) => err.push(s) } as any);
    assert.equal(code, 0, err.join(''));
    assert.match(err.join(''), /re-encrypted 2 secret/);
    const newKey = readFileSync(join(dir, 'master.key'), 'utf8');
    assert.notEqual(newKey, oldKey);
    assert.equal(existsSync(join(dir, 'master.key.new')), false);
    assert.ok(!rawFiles(dir).includes(VALUE));

    await withPier(dir, async (req) => {
      const r = await req('POST', `/v1/secrets/${id}/reveal`, {});
      assert.equal(r.status, 200);
      assert.equal(r.body.value, VALUE);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rotation that cannot open one value changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-rot-'));
  try {
    const id = await withPier(dir, async (req) => (await req('POST', '/v1/secrets', { name: 'keep', type: 'SIMPLE', value: VALUE })).body.secret.id as string);
    await withPier(dir, async (req) => { await req('POST', '/v1/secrets', { name: 'broken', type: 'SIMPLE', value: 'x' }); });
    const store = await openStore({ dataDir: dir });
    // Seal one row under a foreign key, as a half-restored backup would.
    await store.db.run("UPDATE secrets SET encrypted_value = ? WHERE name = 'broken'", [encryptSecret(Buffer.alloc(32, 7), '{"value":"x"}')]);
    const before = await store.db.all('SELECT id, encrypted_value FROM secrets ORDER BY id');
    await store.close();
    const oldKey = readFileSync(join(dir, 'master.key'), 'utf8');

    const code = await cli(['rotate-master-key', '--data-dir', dir], { stdout: () => {}, stderr: () => {} } as any);
    assert.notEqual(code, 0);
    assert.equal(readFileSync(join(dir, 'master.key'), 'utf8'), oldKey);
    assert.equal(existsSync(join(dir, 'master.key.new')), false);
    const after = await openStore({ dataDir: dir });
    try {
      assert.deepEqual(await after.db.all('SELECT id, encrypted_value FROM secrets ORDER BY id'), before);
      assert.equal((await revealSecret(after.db, after.secretKey, id))?.value, VALUE);
    } finally {
      await after.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
