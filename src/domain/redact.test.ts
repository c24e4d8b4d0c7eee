import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor, secretForms } from './redact.ts';

const SECRETS = ['s3cr3t-Token_value', 'p@ss w/rd!(x)*~', 'héllo-wörld-ключ'];

/** The decodings of every base64 window of `text`: if any contains the secret, the redaction leaked it. */
function leaksThroughBase64(text: string, secret: string): boolean {
  const alphabet = text.replace(/-/g, '+').replace(/_/g, '/');
  for (const run of alphabet.match(/[A-Za-z0-9+/]+/g) ?? []) {
    for (let i = 0; i < 4; i++) if (Buffer.from(run.slice(i), 'base64').toString('utf8').includes(secret)) return true;
  }
  return false;
}

test('base64 copies are hidden: standard and URL-safe, padded or not, at every byte offset', () => {
  for (const secret of SECRETS) {
    const redact = createRedactor([secret], '***');
    for (let before = 0; before < 6; before++) {
      for (let after = 0; after < 3; after++) {
        const plain = Buffer.from(`${'x'.repeat(before)}${secret}${'y'.repeat(after)}`, 'utf8');
        const std = plain.toString('base64');
        for (const encoded of [std, std.replace(/=+$/, ''), plain.toString('base64url'), `${plain.toString('base64url')}==`]) {
          assert.ok(leaksThroughBase64(encoded, secret), 'the check itself finds the unredacted secret');
          const line = `Authorization: Basic ${encoded} (sent)`;
          const out = redact(line);
          assert.match(out, /\*\*\*/, `${secret} at offset ${before}: ${line}`);
          assert.equal(leaksThroughBase64(out, secret), false, `${secret} at offset ${before} leaks: ${out}`);
        }
      }
    }
  }
});

test('percent-encoded copies are hidden: upper or lower hex, strict or lenient, + for spaces', () => {
  for (const secret of SECRETS) {
    const redact = createRedactor([secret], '***');
    const strict = encodeURIComponent(secret).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const copies = [
      encodeURIComponent(secret), strict, encodeURI(secret), strict.toLowerCase().replace(/%[0-9a-f]{2}/g, (h) => h),
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()), encodeURIComponent(secret).replace(/%20/g, '+'),
    ];
    for (const copy of copies) {
      if (!/%[0-9a-fA-F]{2}|\+/.test(copy) && copy !== secret) continue;
      const out = redact(`GET https://user:${copy}@git.example.com/repo?token=${copy}&x=1`);
      assert.ok(!out.includes(copy), `${copy} survived: ${out}`);
      assert.ok(!decodeURIComponent(out.replace(/\*\*\*/g, '')).includes(secret));
      assert.equal(out, 'GET https://user:***@git.example.com/repo?token=***&x=1');
    }
  }
});

test('plain copies are hidden as before; short secrets are left alone; other text untouched', () => {
  const redact = createRedactor(['abcd', 'xyz', 'supersecret'], '****');
  assert.equal(redact('abcd supersecret xyz'), '**** **** xyz');
  assert.equal(redact('nothing here'), 'nothing here');
  assert.deepEqual(secretForms('abc'), []);
  assert.ok(secretForms('supersecret').includes(Buffer.from('supersecret').toString('base64').replace(/=+$/, '').slice(0, 14)));
  assert.equal(createRedactor([], '***')('abcd'), 'abcd');
});
