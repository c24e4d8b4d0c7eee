import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pgTarget } from './postgres.ts';

test('pgTarget keeps the password out of the URL that reaches argv and messages, and hands it over in PGPASSWORD', () => {
  const t = pgTarget('postgres://pier:s%40cret@127.0.0.1:5432/pier?sslmode=disable');
  assert.equal(t.url, 'postgres://pier@127.0.0.1:5432/pier?sslmode=disable');
  assert.equal(t.display, t.url);
  assert.equal(t.env.PGPASSWORD, 's@cret');
  assert.ok(!t.url.includes('cret'));
  const bare = pgTarget('postgres://pier@127.0.0.1/pier');
  assert.equal(bare.url, 'postgres://pier@127.0.0.1/pier');
  assert.equal(bare.env.PGPASSWORD, process.env.PGPASSWORD);
});
