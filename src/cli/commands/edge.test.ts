// `pier edge` through the CLI entry point: refuses to start without a region or token, and otherwise serves the
// table the API publishes until interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier } from '../../../test/api/helpers.ts';
import { spawnSync } from 'node:child_process';
import { app, call, route, startUpstream, up } from '../../edge/test-helpers.ts';
import type { CliIO } from '../command.ts';
import { main } from '../main.ts';

function io(env: Record<string, string | undefined> = {}, files: Record<string, string> = {}) {
  const out: string[] = [];
  const handlers = new Set<() => void>();
  const value: Partial<CliIO> = {
    stdout: (t) => { out.push(t); },
    stderr: (t) => { out.push(t); },
    env: { HOME: '/nonexistent', ...env },
    readFile: (p) => { if (p in files) return files[p]!; throw new Error(`ENOENT: no such file, open '${p}'`); },
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
  // A region the control plane would refuse in the edge's traffic reports is refused here, before anything starts.
  const c = io({ PIER_TOKEN: 't' });
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--region', 'Fra'], c.value), 1);
  assert.match(c.out.join(''), /--region "Fra" is not a region id \(lower-case letters, digits and '-', e\.g\. fra\)/);
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

test('pier edge --region-map: a bad line or an unreadable file is refused, naming the flag, the file and the line', async () => {
  const a = io({ PIER_TOKEN: 't' }, { '/m.txt': '10.0.0.0/8 was\n10.0.0.0/40 sin\n' });
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--region', 'fra', '--region-map', '/m.txt'], a.value), 1);
  assert.match(a.out.join(''), /--region-map: \/m\.txt:2: bad prefix length in "10\.0\.0\.0\/40" \(0-32\)/);
  const b = io({ PIER_TOKEN: 't' });
  assert.equal(await main(['edge', '--api', 'http://127.0.0.1:9', '--region', 'fra', '--region-map', '/none.txt'], b.value), 1);
  assert.match(b.out.join(''), /--region-map: cannot read \/none\.txt: ENOENT/);
});

test('pier edge --region-map: a client whose network maps to another region is served from that region', async () => {
  const t = await startTestPier();
  const fra = await startUpstream('fra');
  const was = await startUpstream('was');
  try {
    t.pier.routeFeed.publish([app('geo', [route('/', [up('f1', fra.port, 'fra'), up('w1', was.port, 'was')])], { hosts: ['geo.example'] })]);
    const cli = io({ PIER_TOKEN: t.token, PATH: process.env.PATH }, { '/regions.txt': '# test clients\n127.0.0.2 was\n' });
    const exit = main(['edge', '--api', t.url, '--addr', '127.0.0.1:0', '--region', 'fra', '--region-map', '/regions.txt'], cli.value);
    let url = '';
    for (let i = 0; i < 1000 && !url; i++) {
      url = /serving on (http:\/\/\S+)/.exec(cli.out.join(''))?.[1] ?? '';
      if (!url) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(url, cli.out.join(''));
    const from = async (localAddress: string) => (await call(url, 'geo.example', '/', { localAddress })).body.split(' ')[0];
    try {
      // Where HAProxy is installed it serves (its frontend sends the mapped client on to the Node edge behind it).
      if (spawnSync('haproxy', ['-v']).status === 0) assert.match(cli.out.join(''), /haproxy/i);
      for (let i = 0; i < 3; i++) {
        assert.equal(await from('127.0.0.2'), 'was', "a client of was's network");
        assert.equal(await from('127.0.0.1'), 'fra', 'no range holds it: the edge\'s own region');
      }
    } finally {
      cli.interrupt();
      assert.equal(await exit, 0);
    }
  } finally {
    await fra.close();
    await was.close();
    await t.close();
  }
});
