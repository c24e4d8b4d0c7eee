import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DOCKER_FORWARD_CHAIN, DOCKER_INPUT_CHAIN, DOCKER_JUMPS, bridgePatterns, dockerBridgeName, isolationRules, jumpCheckArgs,
  jumpDeleteArgs, jumpInsertArgs,
} from './firewall.ts';

const FWD = DOCKER_FORWARD_CHAIN;
const IN = DOCKER_INPUT_CHAIN;

test('Pier names its Docker bridges: a fixed prefix, 15 characters, stable per network, distinct across networks', () => {
  const a = dockerBridgeName('pier-app-1');
  assert.match(a, /^pierdk[0-9a-f]{9}$/);
  assert.equal(a.length, 15, 'the kernel allows 15 characters');
  assert.equal(dockerBridgeName('pier-app-1'), a);
  assert.notEqual(dockerBridgeName('pier-app-2'), a);
});

test('bridge patterns: the wildcard first, other Pier bridges sorted once, junk refused before it reaches iptables', () => {
  assert.deepEqual(bridgePatterns([]), ['pierdk+']);
  assert.deepEqual(bridgePatterns(['br-bbb', 'br-aaa', 'br-bbb', 'pierdk123456789']), ['pierdk+', 'br-aaa', 'br-bbb']);
  for (const bad of ['br-x -j ACCEPT', 'a\nCOMMIT', '', 'a-name-that-is-far-too-long']) assert.throws(() => bridgePatterns([bad]), /interface name/);
});

test('isolation rules, in order: same network left to Docker, nothing opens a connection in, no link-local, no other bridge', () => {
  const lines = isolationRules(['pierdk+', 'br-aaa']).split('\n');
  assert.deepEqual(lines.slice(0, 3), ['*filter', `:${FWD} - [0:0]`, `:${IN} - [0:0]`], 'declaring the chains empties them: re-applying is idempotent');
  const fwd = lines.filter((l) => l.startsWith(`-A ${FWD} `)).map((l) => l.slice(`-A ${FWD} `.length));
  assert.deepEqual(fwd, [
    '-i pierdk+ -o pierdk+ -m physdev --physdev-is-bridged -j RETURN',
    '-i br-aaa -o br-aaa -m physdev --physdev-is-bridged -j RETURN',
    '-o pierdk+ -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-o pierdk+ -j DROP',
    '-o br-aaa -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-o br-aaa -j DROP',
    '-i pierdk+ -d 169.254.0.0/16 -j DROP',
    '-i pierdk+ -o docker+ -j DROP',
    '-i pierdk+ -o br-+ -j DROP',
    '-i pierdk+ -o pierbr+ -j DROP',
    '-i br-aaa -d 169.254.0.0/16 -j DROP',
    '-i br-aaa -o docker+ -j DROP',
    '-i br-aaa -o br-+ -j DROP',
    '-i br-aaa -o pierbr+ -j DROP',
  ]);
  assert.ok(!fwd.some((l) => /ACCEPT/.test(l)), 'the chain never accepts: egress goes on to Docker\'s own rules');
  const input = lines.filter((l) => l.startsWith(`-A ${IN} `)).map((l) => l.slice(`-A ${IN} `.length));
  assert.deepEqual(input, [
    '-i pierdk+ -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-i pierdk+ -j DROP',
    '-i br-aaa -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-i br-aaa -j DROP',
  ]);
  assert.deepEqual(lines.slice(-2), ['COMMIT', '']);
});

test('IPv6 rules have the same shape with IPv6 link-local', () => {
  const v6 = isolationRules(['pierdk+'], 6);
  assert.match(v6, /-i pierdk\+ -d fe80::\/10 -j DROP/);
  assert.doesNotMatch(v6, /169\.254/);
});

test('jumps: from DOCKER-USER (first in FORWARD, kept by dockerd), FORWARD and INPUT, inserted at the top; argv only', () => {
  assert.deepEqual(DOCKER_JUMPS.map((j) => `${j.from}>${j.to}`), [`DOCKER-USER>${FWD}`, `FORWARD>${FWD}`, `INPUT>${IN}`]);
  const j = DOCKER_JUMPS[0];
  assert.deepEqual(jumpCheckArgs(j), ['-w', '-t', 'filter', '-C', 'DOCKER-USER', '-j', FWD]);
  assert.deepEqual(jumpInsertArgs(j), ['-w', '-t', 'filter', '-I', 'DOCKER-USER', '1', '-j', FWD]);
  assert.deepEqual(jumpDeleteArgs(j), ['-w', '-t', 'filter', '-D', 'DOCKER-USER', '-j', FWD]);
});
