import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPrivateService, normalizeDefinition, serviceTypeOf } from './definition.ts';
import type { DeploymentDefinition } from './types.ts';

const WEB = { docker: { image: 'nginx' }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ path: '/', port: 8000 }] };

/** The fields of the errors for `input`, in order; asserts each description matches its pattern. */
function expectErrors(input: unknown, want: [string, RegExp][], label: string): void {
  const { errors } = normalizeDefinition(input);
  assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), `${label}: ${JSON.stringify(errors, null, 1)}`);
  want.forEach(([, re], i) => assert.match(errors[i]!.description, re, label));
}

test('a minimal web service gets every default, in canonical order', () => {
  const { definition, errors } = normalizeDefinition(WEB);
  assert.deepEqual(errors, []);
  assert.equal(JSON.stringify(definition), JSON.stringify({
    type: 'WEB',
    strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_ROLLING' },
    routes: [{ port: 8000, path: '/' }],
    ports: [{ port: 8000, protocol: 'http' }],
    proxy_ports: [],
    env: [],
    regions: ['was'],
    scalings: [{ min: 1, max: 1 }],
    instance_types: [{ type: 'nano' }],
    health_checks: [{ grace_period: 5, interval: 30, restart_limit: 3, timeout: 5, tcp: { port: 8000 } }],
    volumes: [],
    config_files: [],
    skip_cache: false,
    mesh: 'DEPLOYMENT_MESH_AUTO',
    docker: { image: 'nginx' },
  }));
});

test('a minimal worker has no network parts', () => {
  const { definition, errors } = normalizeDefinition({ type: 'WORKER', docker: { image: 'busybox' } });
  assert.deepEqual(errors, []);
  assert.deepEqual([definition.ports, definition.routes, definition.proxy_ports, definition.health_checks], [[], [], [], []]);
  assert.equal(definition.type, 'WORKER');
});

test('equal inputs give byte-identical output, and normalising twice changes nothing', () => {
  const a = {
    git: { repository: 'github.com/org/repo', branch: 'dev' },
    env: [{ key: 'A', value: '1' }, { secret: 'db-url', key: 'DB' }],
    ports: [{ protocol: 'http', port: 3000 }],
    regions: ['fra', 'was'],
    scalings: [{ max: 3, min: 1, targets: [{ requests_per_second: { value: 50 } }] }],
  };
  const b = {
    scalings: [{ targets: [{ requests_per_second: { value: 50 } }], min: 1, max: 3 }],
    regions: ['fra', 'was'],
    ports: [{ port: 3000, protocol: 'http' }],
    env: [{ value: '1', key: 'A' }, { key: 'DB', secret: 'db-url' }],
    git: { branch: 'dev', repository: 'github.com/org/repo' },
  };
  const na = normalizeDefinition(a);
  const nb = normalizeDefinition(b);
  assert.deepEqual(na.errors, []);
  assert.equal(JSON.stringify(na.definition), JSON.stringify(nb.definition));
  const again = normalizeDefinition(JSON.parse(JSON.stringify(na.definition)));
  assert.deepEqual(again.errors, []);
  assert.equal(JSON.stringify(again.definition), JSON.stringify(na.definition));
});

test('type: WEB by default and for INVALID; WORKER kept; others rejected', () => {
  const rows: [unknown, string | RegExp][] = [
    [undefined, 'WEB'], [null, 'WEB'], ['INVALID', 'WEB'], ['WEB', 'WEB'], ['WORKER', 'WORKER'],
    ['SANDBOX', /SANDBOX services are not supported by Pier: use WEB .* or WORKER/],
    ['DATABASE', /DATABASE services are not supported by Pier/],
    ['web', /must be WEB or WORKER, got "web"/],
  ];
  for (const [type, want] of rows) {
    const input = { ...(type === 'WORKER' ? { docker: { image: 'x' } } : WEB), type };
    const { definition, errors } = normalizeDefinition(input);
    if (typeof want === 'string') {
      assert.deepEqual(errors, [], String(type));
      assert.equal(definition.type, want);
    } else {
      assert.deepEqual(errors.map((e) => e.field), ['definition.type']);
      assert.match(errors[0]!.description, want);
    }
  }
});

test('strategy: DEFAULT, INVALID and absent become ROLLING; CANARY and unknown rejected', () => {
  const rows: [unknown, string | RegExp][] = [
    [undefined, 'DEPLOYMENT_STRATEGY_TYPE_ROLLING'],
    [{}, 'DEPLOYMENT_STRATEGY_TYPE_ROLLING'],
    [{ type: 'DEPLOYMENT_STRATEGY_TYPE_DEFAULT' }, 'DEPLOYMENT_STRATEGY_TYPE_ROLLING'],
    [{ type: 'DEPLOYMENT_STRATEGY_TYPE_INVALID' }, 'DEPLOYMENT_STRATEGY_TYPE_ROLLING'],
    [{ type: 'DEPLOYMENT_STRATEGY_TYPE_ROLLING' }, 'DEPLOYMENT_STRATEGY_TYPE_ROLLING'],
    [{ type: 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN' }, 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN'],
    [{ type: 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE' }, 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE'],
    [{ type: 'DEPLOYMENT_STRATEGY_TYPE_CANARY' }, /canary deployments are not supported by Pier: use DEPLOYMENT_STRATEGY_TYPE_ROLLING/],
    [{ type: 'rolling' }, /must be one of .*ROLLING.*got "rolling"/],
  ];
  for (const [strategy, want] of rows) {
    const { definition, errors } = normalizeDefinition({ ...WEB, strategy });
    if (typeof want === 'string') {
      assert.deepEqual(errors, []);
      assert.deepEqual(definition.strategy, { type: want });
    } else {
      assert.deepEqual(errors.map((e) => e.field), ['definition.strategy.type']);
      assert.match(errors[0]!.description, want);
    }
  }
  expectErrors({ ...WEB, strategy: 'ROLLING' }, [['definition.strategy', /must be an object/]], 'strategy string');
});

test('top level: not an object, unknown fields, volumes, mesh, skip_cache', () => {
  for (const bad of [null, 42, 'x', [], true]) {
    const { definition, errors } = normalizeDefinition(bad);
    assert.equal(errors[0]!.field, 'definition', JSON.stringify(bad));
    assert.match(errors[0]!.description, /must be an object/);
    assert.equal(definition.type, 'WEB');
  }
  expectErrors({ ...WEB, foo: 1, instance_snapshot_id: 'x' }, [
    ['definition.foo', /^unknown field/], ['definition.instance_snapshot_id', /^unknown field/],
  ], 'unknown');
  // Issue #20: volumes are validated now (the old refusal is gone); the detailed cases are in volumes.test.ts.
  const withVolume = normalizeDefinition({ ...WEB, volumes: [{ id: 'v', path: '/data/' }] });
  assert.deepEqual(withVolume.errors, [], 'volumes');
  assert.deepEqual(withVolume.definition.volumes, [{ id: 'v', path: '/data' }], 'volumes normalised');
  expectErrors({ ...WEB, volumes: [{ id: 'v', path: 'data' }] }, [['definition.volumes[0].path', /must be an absolute path/]], 'volume path');
  expectErrors({ ...WEB, volumes: 'x' }, [['definition.volumes', /must be a list/]], 'volumes type');
  expectErrors({ ...WEB, mesh: 'ON' }, [['definition.mesh', /must be one of DEPLOYMENT_MESH_AUTO/]], 'mesh');
  expectErrors({ ...WEB, skip_cache: 'yes' }, [['definition.skip_cache', /must be true or false/]], 'skip_cache');
  const ok = normalizeDefinition({ ...WEB, volumes: [], mesh: 'DEPLOYMENT_MESH_DISABLED', skip_cache: true, name: 'web' });
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.definition.mesh, 'DEPLOYMENT_MESH_DISABLED');
  assert.equal(ok.definition.skip_cache, true);
  assert.equal(ok.definition.name, 'web');
  assert.equal(Object.keys(ok.definition)[0], 'name');
});

test('errors use the given path prefix', () => {
  const { errors } = normalizeDefinition({ docker: {} , ports: [{ port: 8000 }] }, { path: 'services[0].definition' });
  assert.deepEqual(errors.map((e) => e.field), ['services[0].definition.docker.image']);
});

test('every error is collected at once, never thrown, for hostile input', () => {
  const hostile: unknown[] = [
    { ports: 'x', routes: {}, env: 7, regions: 'fra', scalings: null, instance_types: [null], health_checks: [[]] },
    { docker: [], git: 'x', archive: 5 },
    { ports: [{ port: '80' }, { port: 1e10 }, { port: -1 }, { port: 1.5 }, { port: {} }], routes: [{}], docker: { image: 1 } },
    { scalings: [{ min: 'a', max: [], targets: [1, null, { average_cpu: 'x' }] }], docker: { image: 'x' }, ports: [{ port: 80 }] },
    { env: [{}, { key: 1 }, null], config_files: [null, {}], network_policy: { egress: { allow_list: [null, 1] } } },
    { health_checks: [{ tcp: 1 }, { http: 'x' }, { http: { port: 80, headers: [1] } }], docker: { image: 'x' }, ports: [{ port: 80 }] },
  ];
  for (const input of hostile) {
    const { errors, definition } = normalizeDefinition(input);
    assert.ok(errors.length > 0, JSON.stringify(input));
    for (const e of errors) {
      assert.match(e.field, /^definition(\.|$)/);
      assert.ok(e.description.length > 5);
    }
    assert.ok(Array.isArray(definition.ports) && Array.isArray(definition.env) && Array.isArray(definition.scalings));
  }
  // Integer strings are accepted: the gRPC gateway Koyeb's clients target encodes int64 as strings.
  const { errors, definition } = normalizeDefinition({ ...WEB, ports: [{ port: '8000' }] });
  assert.deepEqual(errors, []);
  assert.deepEqual(definition.ports, [{ port: 8000, protocol: 'http' }]);
});

test('serviceTypeOf and isPrivateService', () => {
  const rows: [DeploymentDefinition, string, boolean][] = [
    [{ type: 'WEB', routes: [{ port: 80, path: '/' }] }, 'WEB', false],
    [{ type: 'WEB', routes: [] }, 'WEB', true],
    [{}, 'WEB', true],
    [{ type: 'INVALID' }, 'WEB', true],
    [{ type: 'WORKER' }, 'WORKER', false],
  ];
  for (const [def, type, priv] of rows) {
    assert.equal(serviceTypeOf(def), type);
    assert.equal(isPrivateService(def), priv);
  }
});
