// PostgreSQL stopped for a few seconds under a running API (issue #25 item 3): every request answers 503
// `unavailable` with Retry-After (Koyeb's error body), never 500; the outage is logged once; the API recovers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { postgresUnavailable, startPgCluster, type PgCluster } from './cluster.ts';

const skip = postgresUnavailable();
let cluster: PgCluster | undefined;
let pier: PierHandle | undefined;
const lines: string[] = [];

before(async () => {
  if (skip) return;
  cluster = await startPgCluster();
  const config = loadConfig({ 'data-dir': mkdtempSync(join(tmpdir(), 'pier-outage-')), 'api-addr': '127.0.0.1:0' }, { DATABASE_URL: await cluster.createDatabase('outage') });
  pier = await startPier(config, { log: (l) => lines.push(l), components: () => [] });
});

after(async () => {
  await pier?.close().catch(() => undefined);
  await cluster?.stop();
});

test('PostgreSQL down: the API answers 503 unavailable with Retry-After, logs the outage once, then recovers', { skip }, async () => {
  const { token } = JSON.parse(readFileSync(pier!.credentialsPath, 'utf8')) as { token: string };
  const get = () => fetch(`${pier!.apiUrl}/v1/apps`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
  assert.equal((await get()).status, 200);
  await cluster!.pause();
  for (let i = 0; i < 5; i++) {
    const r = await get();
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
    const body = await r.json() as { code: string; message: string };
    assert.equal(body.code, 'unavailable');
    assert.match(body.message, /store is unreachable/);
  }
  assert.equal(lines.filter((l) => /store unreachable since/.test(l)).length, 1, lines.join('\n'));
  assert.equal(lines.filter((l) => /unhandled API error/.test(l)).length, 0);
  await cluster!.resume();
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await get()).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 200, 'the API answers again once PostgreSQL is back');
  assert.equal(lines.filter((l) => /store reachable again after/.test(l)).length, 1, lines.join('\n'));
});
