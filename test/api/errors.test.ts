import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { createApiServer } from '../../src/api/server.ts';
import { generateToken, insertOrganization, insertToken } from '../../src/store/organizations.ts';

test('unexpected errors answer 500 api_error with a request id that the log line carries, without the token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-err-'));
  const store = await openStore({ dataDir: dir });
  const logs: Record<string, unknown>[] = [];
  const api = createApiServer({ store, logger: (e) => logs.push(e) });
  try {
    const org = await insertOrganization(store.db, 'acme');
    const token = generateToken();
    await insertToken(store.db, org.id, 'admin', token);
    const url = await api.listen(0);
    // Break the apps table under the server's feet: the list query now fails inside the repository.
    await store.db.exec('DROP TABLE services; DROP TABLE apps');
    const res = await fetch(`${url}/v1/apps?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json() as { status: number; code: string; message: string };
    assert.equal(res.status, 500);
    assert.equal(body.code, 'api_error');
    const id = /request id ([0-9a-f-]{36})/.exec(body.message)?.[1];
    assert.ok(id, body.message);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.request_id, id);
    assert.equal(logs[0]!.path, '/v1/apps');
    assert.equal(JSON.stringify(logs).includes(token), false);
  } finally {
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
