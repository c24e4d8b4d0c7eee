// The edge's listeners hold at most `maxConnections` client connections each: past the cap a new connection is
// closed before any byte, the ones held keep being served, and a freed place is taken again. Every such close is
// counted in /metrics (pier_edge_connections_dropped_total), summed over the edge's worker processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createEdge } from './edge.ts';
import { app, route, startUpstream, up, type TestUpstream } from './test-helpers.ts';

let upstream: TestUpstream;
before(async () => { upstream = await startUpstream('fra'); });
after(async () => { await upstream.close(); });

/** A keep-alive connection to the edge and one request on it; resolves with the status line ('' when closed first). */
function ask(port: number, keep: Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    keep.push(c);
    let got = '';
    c.on('error', () => resolve(got));
    c.on('close', () => resolve(got));
    c.on('data', (d) => { got += d; if (got.includes('\r\n\r\n')) resolve(got.split('\r\n')[0]!); });
    c.on('connect', () => c.write('GET /x HTTP/1.1\r\nhost: shop.example\r\n\r\n'));
  });
}

test('the edge closes connections past its cap at once and serves the ones it holds', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'localhost', workers: 1, maxConnections: 2 });
  const sockets: Socket[] = [];
  try {
    edge.setRoutes([app('shop', [route('/', [up('i1', upstream.port, 'fra')])], { hosts: ['shop.example'] })]);
    const port = Number(new URL(edge.url).port);
    assert.equal(await ask(port, sockets), 'HTTP/1.1 200 OK');
    assert.equal(await ask(port, sockets), 'HTTP/1.1 200 OK');
    // Both held open (keep-alive): the third is closed without an answer.
    assert.equal(await ask(port, sockets), '');
    assert.match(edge.prometheus(), /^pier_edge_connections_dropped_total 1$/m, 'the drop is counted');
    // The first one, still open, is served again.
    const again = await new Promise<string>((resolve) => {
      let got = '';
      sockets[0]!.on('data', (d) => { got += d; if (got.includes('\r\n\r\n')) resolve(got.split('\r\n')[0]!); });
      sockets[0]!.write('GET /x HTTP/1.1\r\nhost: shop.example\r\n\r\n');
    });
    assert.equal(again, 'HTTP/1.1 200 OK');
    // A connection that ends frees its place.
    sockets[1]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await ask(port, sockets), 'HTTP/1.1 200 OK');
  } finally {
    for (const s of sockets) s.destroy();
    await edge.close();
  }
});

test('drops are counted over every worker process of the edge', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'localhost', workers: 2, maxConnections: 1 });
  const sockets: Socket[] = [];
  try {
    edge.setRoutes([app('shop', [route('/', [up('i1', upstream.port, 'fra')])], { hosts: ['shop.example'] })]);
    await edge.refreshMetrics?.();
    const port = Number(new URL(edge.url).port);
    // Two workers with one place each: of six held connections at least four are closed unanswered (by whichever
    // worker the kernel gave each to); the primary's /metrics counts exactly those. The sum over workers: metrics.test.ts.
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await ask(port, sockets));
    const closed = answers.filter((a) => a === '').length;
    assert.ok(closed >= 4, `answers: ${answers.join(' | ')}`);
    assert.equal(answers.filter((a) => a === 'HTTP/1.1 200 OK').length, 6 - closed, `answers: ${answers.join(' | ')}`);
    let text = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
      await edge.refreshMetrics?.();
      text = edge.prometheus();
      if (new RegExp(`^pier_edge_connections_dropped_total ${closed}$`, 'm').test(text)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(text, new RegExp(`^pier_edge_connections_dropped_total ${closed}$`, 'm'));
  } finally {
    for (const s of sockets) s.destroy();
    await edge.close();
  }
});
