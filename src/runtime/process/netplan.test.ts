import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FORWARD_CHAIN, INPUT_CHAIN, bridgeName, cidrString, filterRules, gatewayOf, hostBatch, instanceNames, ipToNumber, macOfAddress, namespaceBatch,
  natRules, numberToIp, parsePool, pickAddress, pickSubnet, renderHosts,
} from './netplan.ts';

test('IPv4 addresses convert both ways; junk is refused', () => {
  for (const ip of ['0.0.0.0', '10.213.0.1', '255.255.255.255', '192.168.1.20']) assert.equal(numberToIp(ipToNumber(ip)), ip);
  for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.1; rm', 'a.b.c.d', '']) assert.throws(() => ipToNumber(bad));
});

test('the pool must be a network between /8 and /24 without host bits', () => {
  assert.equal(cidrString(parsePool('10.213.0.0/16')), '10.213.0.0/16');
  assert.equal(cidrString(parsePool(' 172.30.4.0/24 ')), '172.30.4.0/24');
  assert.throws(() => parsePool('10.213.0.1/16'), /host bits/);
  assert.throws(() => parsePool('10.213.0.0/26'), /prefix/);
  assert.throws(() => parsePool('10.0.0.0/4'), /prefix/);
  assert.throws(() => parsePool('10.213.0.0'), /look like/);
});

test('an app subnet is the first /24 of the pool no host address falls into', () => {
  const pool = parsePool('10.213.0.0/16');
  assert.equal(cidrString(pickSubnet(pool, ['127.0.0.1', '172.17.0.1'])!), '10.213.0.0/24');
  assert.equal(cidrString(pickSubnet(pool, ['10.213.0.1', '10.213.1.77', 'not-an-ip'])!), '10.213.2.0/24');
  assert.equal(pickSubnet(parsePool('10.9.9.0/24'), ['10.9.9.200']), undefined, 'a full pool has nothing to give');
  assert.equal(gatewayOf(parsePool('10.213.5.0/24')), '10.213.5.1');
});

test('instance addresses skip the network, the gateway, the broadcast and the ones in use', () => {
  const subnet = parsePool('10.213.3.0/24');
  assert.equal(pickAddress(subnet, []), '10.213.3.2');
  assert.equal(pickAddress(subnet, ['10.213.3.2', '10.213.3.4']), '10.213.3.3');
  const all = Array.from({ length: 253 }, (_, i) => `10.213.3.${i + 2}`);
  assert.equal(pickAddress(subnet, all.slice(0, 252)), '10.213.3.254');
  assert.equal(pickAddress(subnet, all), undefined, '.255 is the broadcast');
});

test('names fit the kernel limit, are stable, and differ between installations', () => {
  const a = instanceNames('/var/lib/pier/process', 'inst-1');
  assert.deepEqual(instanceNames('/var/lib/pier/process', 'inst-1'), a);
  assert.notDeepEqual(instanceNames('/tmp/other/process', 'inst-1'), a);
  assert.ok(a.veth.length <= 15 && a.veth.startsWith('piervh'), a.veth);
  assert.match(a.netns, /^pier-[0-9a-f]{16}$/);
  const b = bridgeName('/var/lib/pier/process', 'pier-app-1');
  assert.ok(b.length <= 15 && b.startsWith('pierbr'), b);
  assert.notEqual(bridgeName('/var/lib/pier/process', 'pier-app-2'), b);
  assert.notEqual(bridgeName('/tmp/other/process', 'pier-app-1'), b);
});

test('the ip batches create the bridge only when needed and put eth0 into the namespace', () => {
  const plan = { bridge: 'pierbr123456789', createBridge: true, subnet: parsePool('10.213.7.0/24'), netns: 'pier-abc', veth: 'piervh123456789', ip: '10.213.7.9' };
  const host = hostBatch(plan).trim().split('\n');
  assert.deepEqual(host.slice(0, 4), [
    'link add pierbr123456789 type bridge', 'link set pierbr123456789 addrgenmode none',
    'addr add 10.213.7.1/24 dev pierbr123456789', 'link set pierbr123456789 up',
  ]);
  assert.ok(host.includes('netns add pier-abc'));
  assert.ok(host.includes('link add piervh123456789 type veth peer name eth0 netns pier-abc'));
  assert.ok(host.includes('link set piervh123456789 master pierbr123456789 up'));
  assert.ok(host.indexOf('netns add pier-abc') < host.indexOf('link add piervh123456789 type veth peer name eth0 netns pier-abc'));
  assert.ok(!hostBatch({ ...plan, createBridge: false }).includes('type bridge'));
  assert.deepEqual(namespaceBatch(plan).trim().split('\n'), [
    'link set lo up', 'link set eth0 address 02:50:0a:d5:07:09', 'addr add 10.213.7.9/24 dev eth0', 'link set eth0 up', 'route add default via 10.213.7.1',
  ]);
});

test('an address has one MAC: the same for every instance given it, another for every other address', () => {
  assert.equal(macOfAddress('10.213.7.9'), '02:50:0a:d5:07:09');
  assert.equal(macOfAddress('10.213.7.9'), macOfAddress('10.213.7.9'));
  assert.equal(macOfAddress('10.214.0.2', '52:54'), '52:54:0a:d6:00:02');
  const macs = new Set(['10.213.0.2', '10.213.0.3', '10.213.1.2', '10.214.0.2', '172.30.255.254'].map((ip) => macOfAddress(ip)));
  assert.equal(macs.size, 5);
  // Locally administered unicast: bit 1 of the first byte set, bit 0 clear.
  for (const mac of macs) assert.equal(parseInt(mac.slice(0, 2), 16) & 0b11, 0b10, mac);
});

test('firewall: same app bridged, other apps and the host dropped, egress only when enabled', () => {
  const closed = filterRules(false).split('\n');
  const fwd = closed.filter((l) => l.startsWith(`-A ${FORWARD_CHAIN}`));
  const sameApp = fwd.findIndex((l) => l.includes('--physdev-is-bridged') && l.endsWith('ACCEPT'));
  const crossApp = fwd.findIndex((l) => l.includes('-i pierbr+ -o pierbr+') && l.endsWith('DROP'));
  assert.ok(sameApp >= 0 && crossApp > sameApp, 'bridged same-app traffic is accepted before routed cross-app traffic is dropped');
  assert.ok(fwd.indexOf(`-A ${FORWARD_CHAIN} -o pierbr+ -j DROP`) > 0, 'nothing else opens connections into an app network');
  assert.ok(fwd.some((l) => l.includes('169.254.0.0/16') && l.endsWith('DROP')), 'cloud metadata is never reachable');
  assert.equal(fwd.at(-1), `-A ${FORWARD_CHAIN} -i pierbr+ -j DROP`);
  assert.equal(filterRules(true).split('\n').filter((l) => l.startsWith(`-A ${FORWARD_CHAIN}`)).at(-1), `-A ${FORWARD_CHAIN} -i pierbr+ -j ACCEPT`);
  assert.deepEqual(closed.filter((l) => l.startsWith(`-A ${INPUT_CHAIN}`)), [
    `-A ${INPUT_CHAIN} -i pierbr+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${INPUT_CHAIN} -i pierbr+ -j DROP`,
  ]);
  assert.ok(closed.includes(`:${FORWARD_CHAIN} - [0:0]`) && closed.at(-2) === 'COMMIT', 'declaring the chain empties it: applying twice is applying once');
  assert.ok(!natRules(parsePool('10.213.0.0/16'), false).includes('MASQUERADE'));
  assert.match(natRules(parsePool('10.213.0.0/16'), true), /-s 10\.213\.0\.0\/16 ! -o pierbr\+ -j MASQUERADE/);
});

test('the hosts file lists localhost, then instances by address with hostname and valid aliases', () => {
  const text = renderHosts([
    { ip: '10.213.0.10', hostname: 'pier-b', aliases: ['web', 'web.shop.internal'] },
    { ip: '10.213.0.2', hostname: 'pier-a', aliases: ['api', 'bad alias', 'api.shop.internal'] },
  ]);
  assert.deepEqual(text.trim().split('\n'), [
    '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback',
    '10.213.0.2\tpier-a api api.shop.internal', '10.213.0.10\tpier-b web web.shop.internal',
  ]);
});
