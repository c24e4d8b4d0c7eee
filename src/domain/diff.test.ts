import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';
import { MASK, diffDefinitions, formatDiff } from './diff.ts';
import type { DeploymentDefinition } from './types.ts';

function def(input: Record<string, unknown>): DeploymentDefinition {
  const { definition, errors } = normalizeDefinition({ docker: { image: 'a:1' }, ports: [{ port: 8000 }], ...input });
  assert.deepEqual(errors, []);
  return definition;
}

const lines = (before: DeploymentDefinition | undefined, after: DeploymentDefinition) => formatDiff(diffDefinitions(before, after));

test('no change, and reordering keyed lists is no change', () => {
  const a = def({ env: [{ key: 'A', value: '1' }, { key: 'B', value: '2' }], ports: [{ port: 8000 }, { port: 9000 }], regions: ['fra', 'was'] });
  const b = def({ env: [{ key: 'B', value: '2' }, { key: 'A', value: '1' }], ports: [{ port: 9000 }, { port: 8000 }], regions: ['was', 'fra'] });
  assert.deepEqual(diffDefinitions(a, a), []);
  assert.deepEqual(diffDefinitions(a, b), []);
});

test('changes are listed by keyed path', () => {
  const before = def({
    env: [{ key: 'KEEP', value: 'x' }, { key: 'OLD', value: 'bye' }, { key: 'DB', secret: 'db-v1' }],
    ports: [{ port: 8000 }, { port: 9000, protocol: 'tcp' }],
    routes: [{ path: '/', port: 8000 }],
    regions: ['fra'],
    scalings: [{ min: 1, max: 1 }],
  });
  const after = def({
    docker: { image: 'a:2' },
    env: [{ key: 'KEEP', value: 'x' }, { key: 'DEBUG', value: '1' }, { key: 'DB', secret: 'db-v2' }, { key: 'TOKEN', secret: 'api-token' }],
    ports: [{ port: 8000, protocol: 'http2' }],
    routes: [{ path: '/', port: 8000 }, { path: '/api', port: 8000 }],
    regions: ['fra', 'was'],
    scalings: [{ min: 1, max: 1 }, { min: 2, max: 2, scopes: ['region:was'] }],
    instance_types: [{ type: 'small' }],
    strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN' },
  });
  assert.deepEqual(lines(before, after), [
    '~ strategy.type: "DEPLOYMENT_STRATEGY_TYPE_ROLLING" -> "DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN"',
    '+ routes[/api]: {"port":8000}',
    '~ ports[8000]: "http" -> "http2"',
    '- ports[9000]',
    '+ env[DEBUG]: "1"',
    '~ env[DB]: @db-v1 -> @db-v2',
    '+ env[TOKEN]: @api-token',
    '- env[OLD]',
    '+ regions[was]: true',
    '+ scalings[region:was]: {"min":2,"max":2}',
    '~ instance_types[*]: "nano" -> "small"',
    '- health_checks[9000]',
    '~ docker.image: "a:1" -> "a:2"',
  ]);
  const removed = diffDefinitions(before, after).find((c) => c.path === 'env[OLD]')!;
  assert.deepEqual(removed, { path: 'env[OLD]', kind: 'removed', before: 'bye' });
});

test('switching source and a first definition are listed leaf by leaf', () => {
  const docker = def({});
  const git = def({ docker: undefined, git: { repository: 'github.com/o/r' } });
  assert.deepEqual(lines(docker, git), [
    '- docker.image',
    '+ git.repository: "github.com/o/r"',
    '+ git.branch: "main"',
    '+ git.buildpack: {}',
  ]);
  const first = lines(undefined, def({ env: [{ key: 'A', value: '1' }] }));
  assert.ok(first.includes('+ docker.image: "a:1"'));
  assert.ok(first.includes('+ env[A]: "1"'));
  assert.ok(first.includes('+ type: "WEB"'));
  assert.ok(first.every((l) => l.startsWith('+ ')));
});

test('secrets never show: env secrets by name, credentials masked, file content summarised', () => {
  const before = def({
    routes: [{ path: '/', port: 8000, security_policies: { basic_auths: [{ username: 'admin', password: 'hunter2' }] } }],
    config_files: [{ path: '/etc/key', content: 'PRIVATE-KEY-1' }],
    env: [{ key: 'PASSWORD', secret: 'pw' }],
  });
  const after = def({
    routes: [{ path: '/', port: 8000, security_policies: { basic_auths: [{ username: 'admin', password: 'swordfish' }], api_keys: ['k-123', '{{ secret.api }}'] } }],
    config_files: [{ path: '/etc/key', content: 'PRIVATE-KEY-2' }],
    env: [{ key: 'PASSWORD', value: 'plain' }],
  });
  const out = lines(before, after).join('\n');
  for (const secret of ['hunter2', 'swordfish', 'k-123', 'PRIVATE-KEY']) assert.ok(!out.includes(secret), `${secret} leaked:\n${out}`);
  assert.ok(out.includes(`+ routes[/].security_policies.api_keys: ["${MASK}","{{ secret.api }}"]`), out);
  // A changed password is reported as a change of its route, with both values masked.
  const pw = lines(before, def({ ...after, routes: [{ path: '/', port: 8000, security_policies: { basic_auths: [{ username: 'admin', password: 'other' }] } }] }));
  assert.ok(pw.includes(`~ routes[/]: {"port":8000,"security_policies":{"basic_auths":[{"username":"admin","password":"${MASK}"}]}} -> {"port":8000,"security_policies":{"basic_auths":[{"username":"admin","password":"${MASK}"}]}}`), pw.join('\n'));
  assert.match(out, /~ config_files\[\/etc\/key\]\.content: "<13 bytes, fnv1a [0-9a-f]{8}>" -> "<13 bytes, fnv1a [0-9a-f]{8}>"/);
  assert.match(out, /~ env\[PASSWORD\]: @pw -> "plain"/);
});

test('scoped env entries are keyed by key and scope', () => {
  const a = def({ regions: ['fra', 'was'], env: [{ key: 'A', value: '1', scopes: ['region:fra'] }] });
  const b = def({ regions: ['fra', 'was'], env: [{ key: 'A', value: '2', scopes: ['region:fra'] }, { key: 'A', value: '3' }] });
  assert.deepEqual(lines(a, b).filter((l) => l.includes('env')), ['~ env[A@region:fra]: "1" -> "2"', '+ env[A]: "3"']);
});
