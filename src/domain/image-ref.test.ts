import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageReference } from './image-ref.ts';

test('valid image references parse into their parts', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const rows: [string, object][] = [
    ['nginx', { path: 'nginx' }],
    ['nginx:1.27', { path: 'nginx', tag: '1.27' }],
    ['library/nginx:latest', { path: 'library/nginx', tag: 'latest' }],
    ['koyeb/demo', { path: 'koyeb/demo' }],
    ['ghcr.io/org/app:v1', { domain: 'ghcr.io', path: 'org/app', tag: 'v1' }],
    ['localhost:5000/app', { domain: 'localhost:5000', path: 'app' }],
    ['localhost/app', { domain: 'localhost', path: 'app' }],
    ['registry.example.com:443/a/b/c:tag_1.2-x', { domain: 'registry.example.com:443', path: 'a/b/c', tag: 'tag_1.2-x' }],
    [`nginx@${digest}`, { path: 'nginx', digest }],
    [`nginx:1@${digest}`, { path: 'nginx', tag: '1', digest }],
    ['my__image.name-x', { path: 'my__image.name-x' }],
    ['127.0.0.1:5000/pier/app:1', { domain: '127.0.0.1:5000', path: 'pier/app', tag: '1' }],
  ];
  for (const [ref, want] of rows) assert.deepEqual(parseImageReference(ref), want, ref);
});

test('invalid image references say why and show the right form', () => {
  const rows: [string, RegExp][] = [
    ['', /^is required/],
    ['   ', /^is required/],
    ['nginx latest', /must not contain spaces/],
    ['Nginx', /repository names are lower-case/],
    ['MyOrg/app', /repository names are lower-case/],
    ['nginx:', /is not a valid image reference/],
    ['nginx::1', /is not a valid image reference/],
    ['-nginx', /is not a valid image reference/],
    ['nginx@sha256:abc', /is not a valid image reference/],
    ['a//b', /is not a valid image reference/],
    ['http://ghcr.io/app', /is not a valid image reference/],
    [`nginx:${'x'.repeat(129)}`, /is not a valid image reference/],
  ];
  for (const [ref, re] of rows) {
    const got = parseImageReference(ref);
    assert.equal(typeof got, 'string', ref);
    assert.match(got as string, re, ref);
  }
  assert.match(parseImageReference('Nginx') as string, /e\.g\. "nginx:1\.27"/);
});
