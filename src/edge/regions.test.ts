// Address maps: the file format `pier edge --region-map` reads (errors name the line and the fix), and lookups of
// addresses that are not addresses (a proxy's x-forwarded-for entry) answering "no region" rather than throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr, parseRegionMap, RegionMap } from './regions.ts';

test('parseRegionMap: CIDR REGION per line, comments and blank lines skipped, order kept', () => {
  const text = '# clients by network\n10.1.0.0/16 fra  # office\n\n  10.0.0.0/8\twas\n2001:db8::/32 sin\n192.0.2.7 par\n';
  assert.deepEqual(parseRegionMap(text, 'map.txt'), [
    { cidr: '10.1.0.0/16', region: 'fra' }, { cidr: '10.0.0.0/8', region: 'was' },
    { cidr: '2001:db8::/32', region: 'sin' }, { cidr: '192.0.2.7', region: 'par' },
  ]);
  assert.deepEqual(parseRegionMap('', 'empty'), []);
});

test('parseRegionMap: a bad line is refused with the file, the line number and the fix', () => {
  const bad: [string, RegExp][] = [
    ['10.0.0.0/8', /m:2: expected "CIDR REGION" \(e\.g\. "10\.0\.0\.0\/8 fra"\), got "10\.0\.0\.0\/8"$/],
    ['10.0.0.0/8 fra extra', /m:2: expected "CIDR REGION"/],
    ['example.com fra', /m:2: not an IP range: "example\.com" \(write ADDRESS or ADDRESS\/BITS/],
    ['10.0.0.0/33 fra', /m:2: bad prefix length in "10\.0\.0\.0\/33" \(0-32\)$/],
    ['fd00::/129 fra', /m:2: bad prefix length in "fd00::\/129" \(0-128\)$/],
    ['10.0.0.0/8/1 fra', /m:2: not an IP range/],
    ['fe80::1%eth0 fra', /m:2: not an IP range: "fe80::1%eth0"/],
    ['10.0.0.0/x fra', /m:2: bad prefix length/],
    ['10.0.0.0/8 fra!', /m:2: region "fra!" is not a region id \(lower-case letters, digits and '-', e\.g\. fra\)/],
    ['10.0.0.0/8 Fra', /m:2: region "Fra" is not a region id/],
  ];
  for (const [line, want] of bad) assert.throws(() => parseRegionMap(`10.1.0.0/16 fra\n${line}\n`, 'm'), want, line);
});

test('parseCidr and RegionMap: the same ranges, first match, a lookup of a non-address answers none', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  const m = new RegionMap([{ cidr: '10.1.0.0/16', region: 'fra' }, { cidr: '10.0.0.0/8', region: 'was' }]);
  assert.equal(m.lookup('10.1.2.3'), 'fra');
  assert.equal(m.lookup('10.2.2.3'), 'was');
  assert.equal(m.lookup('::ffff:10.2.2.3'), 'was');
  assert.equal(m.lookup('192.0.2.1'), undefined);
  assert.equal(m.lookup('unknown'), undefined);
  assert.equal(m.lookup(''), undefined);
  assert.throws(() => new RegionMap([{ cidr: '10.0.0.0/40', region: 'x' }]), /regionMap: bad prefix length/);
});
