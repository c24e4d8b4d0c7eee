import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';
import { desiredInstances, envFor, regionalDefinition } from './regional.ts';
import type { DeploymentDefinition } from './types.ts';

function def(input: Record<string, unknown>): DeploymentDefinition {
  const { definition, errors } = normalizeDefinition({ docker: { image: 'nginx:1' }, ports: [{ port: 8000 }], ...input });
  assert.deepEqual(errors, []);
  return definition;
}

const MULTI = def({
  regions: ['fra', 'was', 'sin'],
  routes: [{ path: '/', port: 8000 }],
  env: [
    { key: 'A', value: 'all' },
    { key: 'B', value: 'fra-only', scopes: ['region:fra'] },
    { key: 'A', value: 'fra', scopes: ['region:fra'] },
    { key: 'S', secret: 'db-url' },
  ],
  instance_types: [{ type: 'small' }, { type: 'eco-small', scopes: ['region:sin'] }],
  scalings: [
    { min: 1, max: 3, targets: [{ requests_per_second: { value: 50 } }] },
    { min: 2, max: 2, scopes: ['region:sin'] },
    { min: 0, max: 1, scopes: ['region:was'] },
  ],
  mesh: 'DEPLOYMENT_MESH_DISABLED',
});

test('regional definitions flatten scopes per region', () => {
  const rows: [string, string, object, object[], object][] = [
    ['fra', 'small', { min: 1, max: 3, targets: [{ requests_per_second: { value: 50 } }] },
      [{ key: 'A', value: 'fra' }, { key: 'S', secret: 'db-url' }, { key: 'B', value: 'fra-only' }], {}],
    ['was', 'small', { min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 300 } }] },
      [{ key: 'A', value: 'all' }, { key: 'S', secret: 'db-url' }], {}],
    ['sin', 'eco-small', { min: 2, max: 2 }, [{ key: 'A', value: 'all' }, { key: 'S', secret: 'db-url' }], {}],
  ];
  for (const [region, type, scaling, env] of rows) {
    const r = regionalDefinition(MULTI, region, 'web');
    assert.equal(r.region, region);
    assert.equal(r.name, 'web');
    assert.equal(r.instance_type, type, region);
    assert.deepEqual(r.scaling, scaling, region);
    assert.deepEqual(r.env, env, region);
    assert.equal(r.type, 'WEB');
    assert.equal(r.mesh, 'REGIONAL_DEPLOYMENT_MESH_DISABLED');
    assert.deepEqual(r.routes, [{ port: 8000, path: '/' }]);
    assert.deepEqual(r.ports, [{ port: 8000, protocol: 'http' }]);
    assert.equal(r.health_checks.length, 1);
    assert.deepEqual(r.docker, { image: 'nginx:1' });
    assert.equal(r.strategy?.type, 'DEPLOYMENT_STRATEGY_TYPE_ROLLING');
    assert.ok(!('scopes' in r.scaling));
  }
});

test('regional definitions are copies: editing one leaves the definition alone', () => {
  const r = regionalDefinition(MULTI, 'fra', 'web');
  r.scaling.targets!.push({ average_cpu: { value: 1 } });
  r.docker!.image = 'changed';
  assert.equal(MULTI.docker!.image, 'nginx:1');
  assert.equal(MULTI.scalings![0]!.targets!.length, 1);
});

test('an unnormalised definition falls back to one nano instance', () => {
  const r = regionalDefinition({ docker: { image: 'x' } }, 'fra', 'w');
  assert.equal(r.instance_type, 'nano');
  assert.deepEqual(r.scaling, { min: 1, max: 1 });
  assert.deepEqual(r.env, []);
  assert.equal(r.mesh, 'REGIONAL_DEPLOYMENT_MESH_AUTO');
});

test('env: later entries win among equals; scoped beats unscoped wherever it appears', () => {
  const d: DeploymentDefinition = {
    env: [
      { key: 'X', value: 'scoped', scopes: ['region:fra'] },
      { key: 'X', value: 'plain' },
      { key: 'Y', value: '1' },
      { key: 'Y', value: '2' },
    ],
  };
  assert.deepEqual(envFor(d, 'fra'), [{ key: 'X', value: 'scoped' }, { key: 'Y', value: '2' }]);
  assert.deepEqual(envFor(d, 'was'), [{ key: 'X', value: 'plain' }, { key: 'Y', value: '2' }]);
});

test('desired instances: definition bounds and manual overrides by scope', () => {
  const rows: [string, Parameters<typeof desiredInstances>[2], object][] = [
    ['fra', undefined, { min: 1, max: 3 }],
    ['was', undefined, { min: 0, max: 1 }],
    ['sin', [], { min: 2, max: 2 }],
    ['fra', [{ instances: 5 }], { min: 1, max: 3, manual: 5 }],
    ['fra', [{ instances: 5 }, { scopes: ['region:fra'], instances: 2 }], { min: 1, max: 3, manual: 2 }],
    ['was', [{ scopes: ['region:fra'], instances: 2 }], { min: 0, max: 1 }],
    ['sin', [{ instances: 0 }], { min: 2, max: 2, manual: 0 }],
    ['sin', [{ instances: -3 }], { min: 2, max: 2, manual: 0 }],
    ['tyo', undefined, { min: 1, max: 3 }],
  ];
  for (const [region, manual, want] of rows) assert.deepEqual(desiredInstances(MULTI, region, manual), want, `${region} ${JSON.stringify(manual)}`);
});
