import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEnvironment, buildInstanceSpec } from '../../src/control/spec.ts';
import { regionalDefinition } from '../../src/domain/regional.ts';
import type { App, Deployment, Instance, Service } from '../../src/domain/types.ts';
import { deploymentRows, serviceRow, webDefinition } from './world.ts';

const app = { id: 'a1', name: 'shop' } as App;
const instance = { id: 'i1', organization_id: 'o1', regional_deployment_id: 'r1', region: 'fra', replica_index: 0 } as Instance;

function build(over: Parameters<typeof webDefinition>[0], opts: { secrets?: Record<string, string>; allowPrivileged?: boolean } = {}) {
  const def = webDefinition(over);
  const service: Service = serviceRow('o1', 'a1', def, '2025-01-01T00:00:00Z');
  const { deployment }: { deployment: Deployment } = deploymentRows(service, def, '2025-01-01T00:00:00Z');
  return buildInstanceSpec({
    instance, def: regionalDefinition(def, 'fra', service.name), deployment, service, app,
    secrets: opts.secrets ?? {}, publicDomain: 'shop-acme.pier.test', allowPrivileged: opts.allowPrivileged ?? false,
  });
}

test('spec: command + args become argv, entrypoint overrides, privileged only when the operator allows it', () => {
  const table: [Parameters<typeof webDefinition>[0], boolean, Partial<Record<'entrypoint' | 'command', string[] | undefined>> & { privileged?: boolean }][] = [
    [{ docker: { image: 'x:1', command: 'node', args: ['server.js', '--port', '8000'] } }, false, { command: ['node', 'server.js', '--port', '8000'], entrypoint: undefined }],
    [{ docker: { image: 'x:1', args: ['serve'] } }, false, { command: ['serve'] }],
    [{ docker: { image: 'x:1', entrypoint: ['/bin/sh', '-c'] } }, false, { entrypoint: ['/bin/sh', '-c'], command: undefined }],
    [{ docker: { image: 'x:1', privileged: true } }, false, { privileged: undefined }],
    [{ docker: { image: 'x:1', privileged: true } }, true, { privileged: true }],
  ];
  for (const [over, allow, want] of table) {
    const { spec } = build(over, { allowPrivileged: allow });
    for (const [k, v] of Object.entries(want)) assert.deepEqual((spec as unknown as Record<string, unknown>)[k], v, `${JSON.stringify(over)} ${k}`);
  }
});

test('spec: env resolves secrets and interpolation; system vars; unknown secret is a readable error', () => {
  const { spec, secretValues } = build({
    env: [{ key: 'DB_PASSWORD', secret: 'db' }, { key: 'URL', value: 'https://{{ KOYEB_PUBLIC_DOMAIN }}/x' }, { key: 'PORT', value: '9999' }],
  }, { secrets: { db: 'hunter22' } });
  assert.equal(spec.env.DB_PASSWORD, 'hunter22');
  assert.equal(spec.env.URL, 'https://shop-acme.pier.test/x');
  assert.equal(spec.env.PORT, '9999', 'a user PORT wins over the default');
  assert.equal(spec.env.KOYEB_INSTANCE_ID, 'i1');
  assert.ok(secretValues.includes('hunter22'));
  assert.ok(!JSON.stringify(spec.labels).includes('hunter22') && !JSON.stringify(spec.command ?? []).includes('hunter22'));
  assert.throws(() => build({ env: [{ key: 'X', secret: 'missing' }] }), /secret "missing" does not exist/);
});

test('spec: app network with mesh aliases unless the mesh is disabled; limits from the instance type', () => {
  const { spec } = build({});
  assert.equal(spec.network, 'pier-app-a1');
  assert.deepEqual(spec.networkAliases, ['api', 'api.shop.internal']);
  assert.equal(spec.memoryBytes, 256 * 1024 * 1024);
  assert.equal(build({ mesh: 'DEPLOYMENT_MESH_DISABLED' }).spec.network, undefined);
  assert.throws(() => build({ instance_types: [{ type: 'gigantic' }] }), /unknown instance type "gigantic"/);
});

test('build environment: secrets and interpolations resolved for build commands, never in Dockerfile build args', () => {
  const def = webDefinition({
    env: [
      { key: 'API_TOKEN', secret: 'api-token' },
      { key: 'DSN', value: 'postgres://app:{{ secret.db-pass }}@db/app' },
      { key: 'NODE_ENV', value: 'production' },
      { key: 'URL', value: 'https://{{ KOYEB_PUBLIC_DOMAIN }}/' },
    ],
  });
  const service: Service = serviceRow('o1', 'a1', def, '2025-01-01T00:00:00Z');
  const { deployment }: { deployment: Deployment } = deploymentRows(service, def, '2025-01-01T00:00:00Z');
  const secrets = { 'api-token': 'tok-1234567890', 'db-pass': 'hunter22', unused: 'never-used-value' };
  const b = buildEnvironment({ deployment, app, service, secrets, publicDomain: 'shop-acme.pier.test' });
  assert.equal(b.env.API_TOKEN, 'tok-1234567890');
  assert.equal(b.env.DSN, 'postgres://app:hunter22@db/app');
  assert.equal(b.env.URL, 'https://shop-acme.pier.test/');
  assert.equal(b.env.KOYEB_APP_NAME, 'shop');
  assert.equal(b.env.PORT, '8000');
  assert.deepEqual(b.buildArgs, { NODE_ENV: 'production', URL: 'https://shop-acme.pier.test/' });
  assert.deepEqual(new Set(b.secretValues), new Set(['tok-1234567890', 'hunter22', 'never-used-value']));
  const missing = webDefinition({ env: [{ key: 'X', secret: 'nope' }] });
  const s2: Service = serviceRow('o1', 'a1', missing, '2025-01-01T00:00:00Z');
  assert.throws(() => buildEnvironment({ deployment: deploymentRows(s2, missing, '2025-01-01T00:00:00Z').deployment, app, service: s2, secrets: {}, publicDomain: 'x' }), /nope/);
});

test('spec: resumable only for a service that scales to zero in the region and mounts no volume; scalesOut when max is above min', () => {
  const toZero = { scalings: [{ scopes: ['region:fra'], min: 0, max: 2 }] };
  assert.equal(build(toZero as Parameters<typeof webDefinition>[0]).spec.resumable, true);
  assert.equal(build({ scalings: [{ scopes: ['region:fra'], min: 1, max: 2 }] } as Parameters<typeof webDefinition>[0]).spec.resumable, undefined);
  const def = webDefinition(toZero as Parameters<typeof webDefinition>[0]);
  const service: Service = serviceRow('o1', 'a1', def, '2025-01-01T00:00:00Z');
  const { deployment } = deploymentRows(service, def, '2025-01-01T00:00:00Z');
  const withVolume = buildInstanceSpec({
    instance, def: regionalDefinition(def, 'fra', service.name), deployment, service, app, secrets: {}, publicDomain: 'x', allowPrivileged: false,
    volumes: [{ volumeId: 'v1', hostPath: '/tmp/v1', path: '/data' }],
  });
  assert.equal(withVolume.spec.resumable, undefined, 'deep sleep keeps no workload that mounts volumes');
  // scalesOut: more instances may come (max above min).
  assert.equal(build(toZero as Parameters<typeof webDefinition>[0]).spec.scalesOut, true);
  assert.equal(build(toZero as Parameters<typeof webDefinition>[0]).spec.scaleMax, 2, 'the region\'s max bounds what is kept ready');
  assert.equal(build({ scalings: [{ scopes: ['region:fra'], min: 2, max: 2 }] } as Parameters<typeof webDefinition>[0]).spec.scalesOut, undefined);
  assert.equal(build({ scalings: [{ scopes: ['region:fra'], min: 2, max: 2 }] } as Parameters<typeof webDefinition>[0]).spec.scaleMax, undefined);
});
