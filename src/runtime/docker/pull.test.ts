import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPullMessage, isDigestRef, normalisedRepo, registryHost, repoDigestFor } from './pull.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('pull: registry host and normalised repository of image references', () => {
  const table: [string, string, string][] = [
    ['nginx', 'docker.io', 'docker.io/library/nginx'],
    ['nginx:1.25', 'docker.io', 'docker.io/library/nginx'],
    ['koyeb/demo:latest', 'docker.io', 'docker.io/koyeb/demo'],
    ['docker.io/library/nginx:1', 'docker.io', 'docker.io/library/nginx'],
    ['ghcr.io/o/a:1', 'ghcr.io', 'ghcr.io/o/a'],
    ['127.0.0.1:5000/pier/busybox:1', '127.0.0.1:5000', '127.0.0.1:5000/pier/busybox'],
    [`127.0.0.1:5000/pier/busybox@${D}`, '127.0.0.1:5000', '127.0.0.1:5000/pier/busybox'],
    ['localhost/app', 'localhost', 'localhost/app'],
  ];
  for (const [ref, host, repo] of table) {
    assert.equal(registryHost(ref), host, ref);
    assert.equal(normalisedRepo(ref), repo, ref);
  }
  assert.equal(isDigestRef(`nginx@${D}`), true);
  assert.equal(isDigestRef('nginx:1'), false);
});

test('pull: the RepoDigest of the image own repository only (a pushed copy elsewhere does not count)', () => {
  assert.equal(repoDigestFor('nginx:1', [`nginx@${D}`]), `nginx@${D}`);
  assert.equal(repoDigestFor('127.0.0.1:5000/pier/busybox:1', [`127.0.0.1:6000/pier/busybox@${D}`, `127.0.0.1:5000/pier/busybox@${D}`]), `127.0.0.1:5000/pier/busybox@${D}`);
  assert.equal(repoDigestFor('pier-test/busybox:1', [`127.0.0.1:5000/pier/busybox@${D}`]), undefined);
  assert.equal(repoDigestFor('pier-test/busybox:1', null), undefined);
});

test('pull: engine failure messages sorted into not found / unauthorized / unreachable', () => {
  const table: [string, string][] = [
    ['manifest for 127.0.0.1:5000/pier/nope:1 not found: manifest unknown: manifest unknown', 'image_not_found'],
    ["pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", 'image_not_found'],
    ['Head "http://127.0.0.1:5000/v2/pier/busybox/manifests/1": no basic auth credentials', 'registry_unauthorized'],
    ['unauthorized: authentication required', 'registry_unauthorized'],
    ['Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', 'registry_unreachable'],
    ['Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid: no such host', 'registry_unreachable'],
    // A registry port that holds the digits 401 is not an HTTP 401 (CI once ran its registry on :40103).
    ['manifest for 127.0.0.1:40103/pier/nope:1 not found: manifest unknown: manifest unknown', 'image_not_found'],
    ['Get "http://127.0.0.1:24017/v2/": dial tcp 127.0.0.1:24017: connect: connection refused', 'registry_unreachable'],
    ['received unexpected HTTP status: 401 Unauthorized', 'registry_unauthorized'],
    ['unexpected status code 401', 'registry_unauthorized'],
    ['something else entirely', 'pull_failed'],
  ];
  for (const [msg, kind] of table) assert.equal(classifyPullMessage(msg), kind, msg);
});
