import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../contract.ts';
import { createContainerBody } from './spec.ts';
import { HOLDER_IMAGE, HOLDER_LABEL, holderCreateBody, holderIdOf, holderName, spareKey } from './netns-holder.ts';

const spec: InstanceSpec = {
  instanceId: 'i-1', labels: {}, image: 'app:1', env: { SECRET: 's3cret' }, ports: [8000, 9090], cpu: 1, memoryBytes: 1 << 28,
  network: 'pier-app-a', networkAliases: ['api', 'api.shop.internal'], resumable: true,
};

test('the holder joins the network with the aliases and exposed ports, confined, and carries none of the tenant env', () => {
  const b = holderCreateBody(spec, 'pier-app-a', { 'dev.pier.managed': 'true' }) as any;
  assert.equal(b.Image, HOLDER_IMAGE);
  assert.deepEqual(b.Entrypoint, ['/pause']);
  assert.deepEqual(b.Labels, { 'dev.pier.managed': 'true', [HOLDER_LABEL]: 'i-1' });
  assert.equal(b.Labels['dev.pier.instance_id'], undefined, 'not an instance: recover() never adopts it as one');
  assert.deepEqual(b.ExposedPorts, { '8000/tcp': {}, '9090/tcp': {} });
  assert.equal(b.HostConfig.NetworkMode, 'pier-app-a');
  assert.deepEqual(b.NetworkingConfig.EndpointsConfig['pier-app-a'].Aliases, ['api', 'api.shop.internal']);
  assert.deepEqual(b.HostConfig.CapDrop, ['ALL']);
  assert.equal(b.HostConfig.ReadonlyRootfs, true);
  assert.deepEqual(b.HostConfig.SecurityOpt, ['no-new-privileges']);
  assert.ok(b.HostConfig.Memory <= 16 << 20 && b.HostConfig.PidsLimit <= 4);
  assert.equal(b.Env, undefined, 'no env: secrets never reach the holder');
  assert.equal(holderName('i-1'), 'pier-i-1-netns');
});

test("an instance joining a holder names it as its network and leaves network, aliases and ports to it", () => {
  const b = createContainerBody(spec, { pidsLimit: 10, netnsOf: 'h0lder' }) as any;
  assert.equal(b.HostConfig.NetworkMode, 'container:h0lder');
  assert.deepEqual(b.ExposedPorts, {}, 'the engine refuses exposed ports on a joining container');
  assert.equal(b.NetworkingConfig, undefined);
  const plain = createContainerBody(spec, { pidsLimit: 10 }) as any;
  assert.equal(plain.HostConfig.NetworkMode, 'pier-app-a');
  assert.deepEqual(plain.NetworkingConfig.EndpointsConfig['pier-app-a'].Aliases, ['api', 'api.shop.internal']);
  assert.equal(holderIdOf('container:h0lder'), 'h0lder');
  assert.equal(holderIdOf('pier-app-a'), undefined);
  assert.equal(holderIdOf(undefined), undefined);
});

test('holders of one service are interchangeable (spares), of another service not', () => {
  const other = { ...spec, instanceId: 'i-2', env: { X: '1' }, networkAliases: ['api.shop.internal', 'api'], ports: [9090, 8000] };
  assert.equal(spareKey(other, 'pier-app-a'), spareKey(spec, 'pier-app-a'), 'instance, env and order do not matter');
  assert.notEqual(spareKey({ ...spec, networkAliases: ['web'] }, 'pier-app-a'), spareKey(spec, 'pier-app-a'));
  assert.notEqual(spareKey({ ...spec, ports: [8000] }, 'pier-app-a'), spareKey(spec, 'pier-app-a'));
  assert.notEqual(spareKey(spec, 'pier-app-b'), spareKey(spec, 'pier-app-a'));
});
