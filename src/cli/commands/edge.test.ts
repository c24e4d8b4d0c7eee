// `pier edge` through the CLI entry point: refuses to start without a region or token, and otherwise serves the
// table the API publishes until interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier } from '../../../test/api/helpers.ts';
import { app, call, route, startUpstream, up } from '../../edge/test-helpers.ts';
import type { CliIO } from '../command.ts';
import { main } from '../main.ts';

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const handlers = new Set<() => void>();
  const value: Partial<CliIO> = {
    stdout: (t) => { out.push(t); },
    stderr: (t) => { out.push(t); },
    env: { HOME: '/nonexistent', ...env },
    readFile: () => { throw new Error('no files'); },
    onInterrupt: (h) => { handlers.add(h); return () => { handlers.delete(h); }; },
  };
  return { value, out, interrupt: () => { for (const h of [...handlers]) h(); } };
}

test('pier edge: needs --region and a token', async () => {
  const a = io();
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--token', 't'], a.value), 1);
  assert.match(a.out.join(''), /needs --region/);
  const b = io();
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--region', 'fra'], b.value), 1);
  assert.match(b.out.join(''), /operator token/);
});

test('pier edge: serves the published table until interrupted', async () => {
  const t = await startTestPier();
  const upstream = await startUpstream('fra');
  try {
    t.pier.routeFeed.publish([app('shop', [route('/', [up('i1', upstream.port, 'fra')])], { hosts: ['shop.example'] })]);
    const cli = io({ PIER_TOKEN: t.token });
    const exit = main(['edge', '--api', t.url, '--addr', '127.0.0.1:0', '--region', 'fra'], cli.value);
    let url = '';
    for (let i = 0; i < 500 && !url; i++) {
      url = /serving on (http:\/\/\S+)/.exec(cli.out.join(''))?.[1] ?? '';
      if (!url) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(url, cli.out.join(''));
    assert.equal((await call(url, 'shop.example', '/a')).body, 'fra /a');
    cli.interrupt();
    assert.equal(await exit, 0);
    assert.match(cli.out.join(''), /pier edge: stopped/);
  } finally {
    await upstream.close();
    await t.close();
  }
});

test('pier edge: a data plane other than auto, haproxy or node is refused, naming where it came from', async () => {
  const a = io({ PIER_TOKEN: 't' });
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--region', 'fra', '--dataplane', 'nginx'], a.value), 1);
  assert.match(a.out.join(''), /--dataplane must be node, haproxy or auto, got "nginx"/);
  const b = io({ PIER_TOKEN: 't', PIER_EDGE_DATAPLANE: 'envoy' });
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--region', 'fra'], b.value), 1);
  assert.match(b.out.join(''), /PIER_EDGE_DATAPLANE must be node, haproxy or auto, got "envoy"/);
});
