import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canTransitionDomain, certificateCovers, markDomain, needsRenewal, normalizeDomainName, renewalTime, retryDelayMs,
  validateCreateDomain, validateCustomDomainName,
} from './domains.ts';

test('custom domain names: host names only, never under the platform domain', () => {
  const ok = ['www.example.com', 'EXAMPLE.org.', 'a-b.c-d.example.co.uk', 'x1.io'];
  for (const n of ok) assert.equal(validateCustomDomainName(n, 'localhost'), null, n);
  const bad: [unknown, RegExp][] = [
    ['', /required/], [undefined, /required/], [42, /required/], ['localhost', /two labels/], ['*.example.com', /wildcard/],
    ['-a.example.com', /not a host name/], ['a_b.example.com', /not a host name/], ['a..example.com', /not a host name/],
    ['10.0.0.1', /IP address/], ['app-pier.localhost', /platform domain/], ['apps.example.net', /platform domain/],
    ['example.net', /platform domain/], [`${'a'.repeat(64)}.example.com`, /not a host name/], [`${'a.'.repeat(127)}com`, /253/],
  ];
  for (const [n, re] of bad) {
    const base = String(n).endsWith('example.net') ? 'example.net' : 'localhost';
    assert.match(validateCustomDomainName(n, base) ?? 'null', re, String(n));
  }
  assert.equal(normalizeDomainName(' WWW.Example.COM. '), 'www.example.com');
});

test('create body errors name the field', () => {
  assert.deepEqual(validateCreateDomain({ name: 'www.example.com', type: 'CUSTOM' }, 'localhost'), []);
  const errs = validateCreateDomain({ name: 'bad_name', type: 'AUTOASSIGNED', app_id: 3 }, 'localhost');
  assert.deepEqual(errs.map((e) => e.field), ['name', 'type', 'app_id']);
});

test('status machine: deletion is one way, the rest move freely', () => {
  const table: [string, string, boolean][] = [
    ['PENDING', 'ACTIVE', true], ['PENDING', 'ERROR', true], ['ERROR', 'ACTIVE', true], ['ACTIVE', 'PENDING', true],
    ['ACTIVE', 'DELETING', true], ['DELETING', 'DELETED', true], ['DELETING', 'ACTIVE', false], ['DELETED', 'PENDING', false],
    // An unverified claim ends at once (expired, or refused once another organization verified the name).
    ['PENDING', 'DELETED', true], ['ACTIVE', 'DELETED', false], ['ERROR', 'DELETED', false], ['DELETED', 'DELETED', true],
  ];
  for (const [from, to, want] of table) assert.equal(canTransitionDomain(from as never, to as never), want, `${from}→${to}`);
});

test('messages say which DNS record to set and when the next attempt is', () => {
  const m = markDomain.dnsMismatch('www.example.com', 'web-pier.localhost', 'no CNAME record');
  assert.equal(m.status, 'PENDING');
  assert.equal(m.messages[0], 'Set a DNS record: CNAME www.example.com → web-pier.localhost');
  const f = markDomain.certificateFailed('rate limited', '2030-01-01T00:00:00.000Z', 2);
  assert.equal(f.status, 'ERROR');
  assert.match(f.messages.join('\n'), /attempt 2\): rate limited[\s\S]*Next attempt at 2030-01-01T00:00:00.000Z/);
  assert.equal(markDomain.active('Pebble', '2030-01-01', '2029-01-01').verified_at, '2029-01-01');
});

test('renewal when a third of the lifetime is left', () => {
  const nb = '2030-01-01T00:00:00.000Z';
  const na = '2030-04-01T00:00:00.000Z'; // 90 days
  const at = renewalTime(nb, na);
  assert.equal(new Date(at).toISOString(), '2030-03-02T00:00:00.000Z');
  assert.equal(needsRenewal({ notBefore: nb, notAfter: na }, at - 1), false);
  assert.equal(needsRenewal({ notBefore: nb, notAfter: na }, at), true);
  assert.equal(needsRenewal(undefined, 0), true);
});

test('retries back off exponentially, capped, honouring a longer Retry-After', () => {
  const b = { baseMs: 1000, maxMs: 10_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 50].map((a) => retryDelayMs(a, b)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.equal(retryDelayMs(1, b, 60_000), 60_000);
  assert.equal(retryDelayMs(3, b, 10), 4000);
});

test('certificate coverage: exact names and one-level wildcards', () => {
  assert.equal(certificateCovers(['www.example.com'], 'WWW.example.com'), true);
  assert.equal(certificateCovers(['*.example.com'], 'a.example.com'), true);
  assert.equal(certificateCovers(['*.example.com'], 'a.b.example.com'), false);
  assert.equal(certificateCovers(['*.example.com'], 'example.com'), false);
  assert.equal(certificateCovers(['a.example.com'], 'b.example.com'), false);
});
