// PIER_ADVERTISE_URL (#25): the URL a control plane writes beside its lease, which followers hand to regional edges
// in their 409 leader_url. Without it, the API's listen URL; with it, exactly the advertised one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { until } from '../support/until.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-advertise-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

for (const advertised of [undefined, 'http://10.9.8.7:7700']) {
  test(`the leader's lease carries ${advertised ? 'PIER_ADVERTISE_URL' : 'its API listen URL'}`, async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const env = { ...process.env, PIER_EDGE_WORKERS: '1', ...(advertised ? { PIER_ADVERTISE_URL: advertised } : {}) };
    const config = loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime: 'process' }, env);
    const pier = await startPier(config, { log: () => {} });
    try {
      const row = await until('the lease row', async () => pier.store.db.get<{ api_url: string }>("SELECT api_url FROM leases WHERE name = 'control-plane'"), 10_000, 50);
      assert.equal(row.api_url, advertised ?? pier.apiUrl);
    } finally {
      await pier.close();
    }
  });
}
