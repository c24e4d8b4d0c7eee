// The data plane choice over real listeners: the Node edge when asked; HAProxy (when installed) when asked; a HAProxy
// chosen by default that cannot start leaves the Node edge serving with one line saying why; named, its failure throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEdgeDataplane } from './dataplane.ts';
import type { EdgeOptions } from './types.ts';

const options: EdgeOptions = { addr: '127.0.0.1:0', domain: 'pier.test', workers: 1 };
const haproxyInstalled = spawnSync('haproxy', ['-v']).status === 0;

/** A directory HAProxy's files cannot go into (a regular file where its directory should be). */
function blockedDir(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'pier-dataplane-'));
  writeFileSync(join(root, 'edge-haproxy'), 'not a directory');
  return { dir: join(root, 'edge-haproxy'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('node: the Node edge serves, nothing logged', async () => {
  const lines: string[] = [];
  const { dir, cleanup } = blockedDir();
  const { edge, dataplane } = await startEdgeDataplane({ dataplane: 'node', auto: false }, options, { dir, onError: (m) => lines.push(m) }, (l) => lines.push(l));
  try {
    assert.equal(dataplane, 'node');
    assert.equal((await fetch(`${edge.url}/`)).status, 404, 'the public address answers: no app at this host');
    assert.deepEqual(lines, []);
  } finally {
    await edge.close();
    cleanup();
  }
});

test('haproxy chosen by default that cannot start: the Node edge serves alone and one line says why and how to choose', async () => {
  const lines: string[] = [];
  const { dir, cleanup } = blockedDir();
  const { edge, dataplane } = await startEdgeDataplane({ dataplane: 'haproxy', auto: true }, options, { dir, onError: (m) => lines.push(m) }, (l) => lines.push(l));
  try {
    assert.equal(dataplane, 'node');
    assert.equal((await fetch(`${edge.url}/`)).status, 404, 'the public address answers: no app at this host');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^pier: edge: HAProxy did not start \(.*edge-haproxy.*\); the Node edge serves alone \(PIER_EDGE_DATAPLANE=node skips HAProxy, PIER_EDGE_DATAPLANE=haproxy makes this an error\)$/);
  } finally {
    await edge.close();
    cleanup();
  }
});

test('haproxy named that cannot start: start-up fails with the cause', async () => {
  const lines: string[] = [];
  const { dir, cleanup } = blockedDir();
  try {
    await assert.rejects(startEdgeDataplane({ dataplane: 'haproxy', auto: false }, options, { dir, onError: (m) => lines.push(m) }, (l) => lines.push(l)), /edge-haproxy/);
    assert.deepEqual(lines, []);
  } finally {
    cleanup();
  }
});

test('haproxy where installed: HAProxy serves the public address', { skip: haproxyInstalled ? false : 'haproxy is not installed' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'pier-dataplane-'));
  const errors: string[] = [];
  const { edge, dataplane } = await startEdgeDataplane({ dataplane: 'haproxy', auto: true }, options, { dir: join(root, 'edge-haproxy'), onError: (m) => errors.push(m) }, (l) => errors.push(l));
  try {
    assert.equal(dataplane, 'haproxy');
    assert.equal((await fetch(`${edge.url}/`)).status, 404, 'HAProxy hands a miss to the Node edge, which answers it');
  } finally {
    await edge.close();
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(errors, []);
});
