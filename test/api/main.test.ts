import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierComponent } from '../../src/main.ts';

test('startPier bootstraps credentials once, accepts PIER_TOKEN, runs components, and restarts cleanly', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-main-'));
  try {
    const env = { PIER_TOKEN: 'bootstrap-token-0123456789' };
    const calls: string[] = [];
    const component: PierComponent = { name: 'probe', start: () => { calls.push('start'); }, stop: () => { calls.push('stop'); } };
    let kicks = 0;
    const first = await startPier(loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0' }, env), {
      log: () => {},
      components: (core) => { core.onWrite(() => { kicks++; }); return [component]; },
    });
    const creds = JSON.parse(readFileSync(first.credentialsPath, 'utf8'));
    assert.equal(statSync(first.credentialsPath).mode & 0o777, 0o600);
    assert.equal(creds.url, first.apiUrl);
    assert.equal(creds.organization_id, first.organizationId);
    const ok = await fetch(`${first.apiUrl}/v1/apps`, { headers: { authorization: `Bearer ${creds.token}` } });
    assert.equal(ok.status, 200);
    const viaEnv = await fetch(`${first.apiUrl}/v1/apps`, {
      method: 'POST', headers: { authorization: `Bearer ${env.PIER_TOKEN}` }, body: JSON.stringify({ name: 'kicked' }),
    });
    assert.equal(viaEnv.status, 200);
    assert.equal(kicks, 1, 'a successful write notifies onWrite listeners');
    assert.deepEqual(calls, ['start']);
    await first.close();
    assert.deepEqual(calls, ['start', 'stop']);

    const second = await startPier(loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0' }, {}), { log: () => {}, components: () => [] });
    const again = JSON.parse(readFileSync(second.credentialsPath, 'utf8'));
    assert.equal(again.token, creds.token, 'the saved token stays valid across restarts');
    assert.equal(again.organization_id, creds.organization_id);
    const apps = await (await fetch(`${second.apiUrl}/v1/apps`, { headers: { authorization: `Bearer ${again.token}` } })).json() as { apps: { name: string }[] };
    assert.deepEqual(apps.apps.map((a) => a.name), ['kicked']);
    await second.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
