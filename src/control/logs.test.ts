// Runtime log lines are redacted like build logs: verbatim, base64 and percent-encoded copies of a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact } from './logs.ts';

test('runtime log redaction hides verbatim, base64 and percent-encoded copies of a secret', () => {
  const secret = 'p@ss word/s3cret+';
  const b64 = Buffer.from(`Authorization: ${secret}`).toString('base64');
  for (const line of [`token=${secret}`, `basic ${b64}`, `url=${encodeURIComponent(secret)}`]) {
    const out = redact(line, [secret]);
    assert.ok(out.includes('****'), `not redacted: ${line} -> ${out}`);
    assert.ok(!out.includes(secret) && !out.includes(encodeURIComponent(secret)), out);
    assert.ok(!Buffer.from(out.replace(/^basic /, ''), 'base64').toString('latin1').includes(secret), out);
  }
  assert.equal(redact('nothing secret here', [secret]), 'nothing secret here');
});
