import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment } from '../domain/types.ts';
import { createBuildLog, type BuildLogLine } from './logs.ts';

// Every line must reveal the secret neither as is nor once decoded (base64 at any alignment, percent-encoding).
const deployment = { id: 'd1', organization_id: 'o1', app_id: 'a1', service_id: 's1' } as Deployment;

test('build lines are stored without the secrets, also base64- and percent-encoded copies', async () => {
  const stored: BuildLogLine[] = [];
  const secret = 'hunter2-db/pass+word';
  const log = createBuildLog(deployment, async (lines) => { stored.push(...lines); }, [secret]);
  const basic = Buffer.from(`deploy:${secret}`).toString('base64');
  log.line(`plain ${secret}`);
  log.line(`curl -H "Authorization: Basic ${basic}"`);
  log.line(`token=${Buffer.from(secret).toString('base64url')}`);
  log.line(`git clone https://deploy:${encodeURIComponent(secret)}@git.example.com/r.git`, 'stderr');
  await log.flush();
  assert.equal(stored.length, 4);
  for (const l of stored) {
    assert.match(l.msg, /\*\*\*/, l.msg);
    assert.ok(!l.msg.includes(secret) && !l.msg.includes(encodeURIComponent(secret)), l.msg);
    for (const run of l.msg.replace(/-/g, '+').replace(/_/g, '/').match(/[A-Za-z0-9+/]{6,}/g) ?? []) {
      for (let i = 0; i < 4; i++) assert.ok(!Buffer.from(run.slice(i), 'base64').toString().includes(secret), l.msg);
    }
  }
  assert.equal(stored[0]!.msg, 'plain ***');
  assert.equal(stored[3]!.msg, 'git clone https://deploy:***@git.example.com/r.git');
  assert.equal(stored[3]!.stream, 'stderr');
  assert.deepEqual(log.tail(1), ['git clone https://deploy:***@git.example.com/r.git']);
});
