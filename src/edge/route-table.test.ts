// The pure routing pieces: host keys, prefix normalisation and matching, region lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeState, hostKey, matchRoute, normalizePrefix } from './route-table.ts';
import { RegionMap } from './regions.ts';
import { app, route, up } from './test-helpers.ts';

test('hostKey lower-cases and drops port and trailing dot', () => {
  const rows: [string | undefined, string][] = [
    ['Shop.Example.com', 'shop.example.com'], ['a.b:8080', 'a.b'], ['a.b.', 'a.b'], ['[::1]:80', '[::1]'], [undefined, ''],
  ];
  for (const [input, want] of rows) assert.equal(hostKey(input), want, String(input));
});

test('normalizePrefix', () => {
  assert.equal(normalizePrefix('/api/'), '/api');
  assert.equal(normalizePrefix('api'), '/api');
  assert.equal(normalizePrefix('/'), '/');
  assert.equal(normalizePrefix(''), '/');
});

test('matchRoute: longest segment-aware prefix, stripped, query kept', () => {
  const state = new EdgeState({ connectTimeoutMs: 1000, responseTimeoutMs: 1000 });
  const hosts = state.compile([app('a', [route('/', [up('i', 1)]), route('/api', [up('j', 2)]), route('/api/v2/', [up('k', 3)])])], 'd');
  const a = hosts.get('a-acme.d')!;
  const rows: [string, string, string][] = [
    ['/api/list', '/api', '/list'], ['/api', '/api', '/'], ['/api?x=1', '/api', '/?x=1'], ['/apix', '/', '/apix'],
    ['/api/v2/x?y', '/api/v2', '/x?y'], ['/api/v2', '/api/v2', '/'], ['/', '/', '/'],
  ];
  for (const [url, prefix, fwd] of rows) {
    const m = matchRoute(a, url)!;
    assert.equal(m.route.prefix, prefix, url);
    assert.equal(m.forwardPath, fwd, url);
  }
  const noRoot = state.compile([app('b', [route('/api', [])])], 'd').get('b-acme.d')!;
  assert.equal(matchRoute(noRoot, '/other'), null);
});

test('compile keeps upstream state across updates and retires removed upstreams', () => {
  const state = new EdgeState({ connectTimeoutMs: 1000, responseTimeoutMs: 1000 });
  state.compile([app('a', [route('/', [up('i1', 1), up('i2', 2)])])], 'd');
  const i1 = state.upstreams.get('i1|127.0.0.1|1|http')!;
  i1.failures = 2;
  state.compile([app('a', [route('/', [up('i1', 1)])])], 'd');
  assert.equal(state.upstreams.get('i1|127.0.0.1|1|http'), i1);
  assert.equal(i1.failures, 2);
  assert.equal(state.upstreams.has('i2|127.0.0.1|2|http'), false);
});

test('RegionMap: first matching range, IPv4-mapped IPv6 handled, bad CIDR rejected', () => {
  const m = new RegionMap([{ cidr: '10.0.0.0/8', region: 'fra' }, { cidr: '0.0.0.0/0', region: 'was' }, { cidr: 'fd00::/8', region: 'sin' }]);
  assert.equal(m.lookup('10.1.2.3'), 'fra');
  assert.equal(m.lookup('::ffff:10.1.2.3'), 'fra');
  assert.equal(m.lookup('192.168.1.1'), 'was');
  assert.equal(m.lookup('fd00::1'), 'sin');
  assert.equal(m.lookup('2001:db8::1'), undefined);
  assert.throws(() => new RegionMap([{ cidr: 'nope/8', region: 'x' }]));
});
