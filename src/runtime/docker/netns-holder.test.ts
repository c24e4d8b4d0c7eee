import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../contract.ts';
import { createContainerBody } from './spec.ts';
import { HELD_NETWORK_LABEL, HELD_PORTS_LABEL, HOLDER_IMAGE, HOLDER_LABEL, POOLED, heldVia, holderCreateBody, holderIdOf, holderName, pooledHolderBody, spareKey } from './netns-holder.ts';
import { endpointsFromInspect, endpointsFromSummary } from './endpoints.ts';

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

test('a pooled holder is made for no instance: no alias, no port, no env, confined like the others', () => {
  const b = pooledHolderBody('pier-holder-pool', { 'dev.pier.managed': 'true' }) as any;
  assert.equal(b.Image, HOLDER_IMAGE);
  assert.deepEqual(b.Labels, { 'dev.pier.managed': 'true', [HOLDER_LABEL]: POOLED });
  assert.deepEqual(b.ExposedPorts, {});
  assert.equal(b.HostConfig.NetworkMode, 'pier-holder-pool');
  assert.deepEqual(b.NetworkingConfig.EndpointsConfig['pier-holder-pool'].Aliases, []);
  assert.deepEqual(b.HostConfig.CapDrop, ['ALL']);
  assert.equal(b.HostConfig.ReadonlyRootfs, true);
  assert.equal(b.Env, undefined);
});

test('an instance in a pooled holder carries its network and ports, and is reached there (not on another network of the holder)', () => {
  const b = createContainerBody({ ...spec, ports: [9090, 8000, 8000] }, { pidsLimit: 10, netnsOf: 'p00l', pooled: true }) as any;
  assert.equal(b.HostConfig.NetworkMode, 'container:p00l');
  assert.deepEqual(b.ExposedPorts, {});
  assert.equal(b.Labels[HELD_NETWORK_LABEL], 'pier-app-a');
  assert.equal(b.Labels[HELD_PORTS_LABEL], '8000,9090');
  assert.equal((createContainerBody(spec, { pidsLimit: 10, netnsOf: 'h0lder' }) as any).Labels[HELD_NETWORK_LABEL], undefined, 'a holder made for its instance exposes the ports itself');
  const via = heldVia(b.Labels)!;
  assert.deepEqual(via, { network: 'pier-app-a', ports: [8000, 9090] });
  assert.equal(heldVia({ 'dev.pier.instance_id': 'x' }), undefined);
  assert.deepEqual(heldVia({ [HELD_NETWORK_LABEL]: 'n', [HELD_PORTS_LABEL]: '' }), { network: 'n', ports: [] });
  // The holder just after a crash mid-join: still on the pool's network too; only the instance's network counts.
  const networks = { 'pier-holder-pool': { IPAddress: '10.99.0.7' }, 'pier-app-a': { IPAddress: '172.20.0.9' } };
  const want = [{ containerPort: 8000, host: '172.20.0.9', hostPort: 8000 }, { containerPort: 9090, host: '172.20.0.9', hostPort: 9090 }];
  assert.deepEqual(endpointsFromInspect({ HostConfig: { NetworkMode: 'pier-holder-pool' }, NetworkSettings: { Networks: networks } }, via), want);
  assert.deepEqual(endpointsFromSummary({ HostConfig: { NetworkMode: 'pier-holder-pool' }, NetworkSettings: { Networks: networks } }, via), want);
  assert.deepEqual(endpointsFromSummary({ NetworkSettings: { Networks: { 'pier-holder-pool': { IPAddress: '10.99.0.7' } } } }, via), [], 'not on its network: nowhere to reach it');
});
