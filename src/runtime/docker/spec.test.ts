import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../contract.ts';
import { boostLimitOf, createContainerBody, pullParams, registryAuthHeader } from './spec.ts';
import { statsFromDocker } from './stats.ts';
import { dockerTimestamp } from './driver.ts';

const base: InstanceSpec = {
  instanceId: 'abc', labels: { service_id: 's1' }, image: 'nginx:1', env: { A: '1', SECRET: 'x=y' },
  ports: [8000, 9090], cpu: 0.25, memoryBytes: 256 * 1024 * 1024,
};

test('the create body maps limits, labels, exposed (never published) ports and no restart policy', () => {
  const b = createContainerBody(base, { pidsLimit: 100 }) as any;
  assert.equal(b.Image, 'nginx:1');
  assert.deepEqual(b.Env, ['A=1', 'SECRET=x=y']);
  assert.deepEqual(b.Labels, { 'dev.pier.service_id': 's1', 'dev.pier.managed': 'true', 'dev.pier.instance_id': 'abc' });
  assert.deepEqual(b.ExposedPorts, { '8000/tcp': {}, '9090/tcp': {} });
  assert.equal(b.HostConfig.PortBindings, undefined, 'no host port: no docker-proxy per instance, the edge reaches the container on its network');
  assert.equal(b.HostConfig.NanoCpus, 250_000_000);
  assert.equal(b.HostConfig.Memory, 256 * 1024 * 1024);
  assert.equal(b.HostConfig.MemorySwap, b.HostConfig.Memory);
  assert.equal(b.HostConfig.PidsLimit, 100);
  assert.deepEqual(b.HostConfig.RestartPolicy, { Name: 'no' });
  assert.equal(b.HostConfig.Privileged, false);
  assert.ok(b.HostConfig.CapDrop.includes('NET_RAW') && !b.HostConfig.CapDrop.includes('NET_BIND_SERVICE'));
  assert.equal(b.HostConfig.NetworkMode, 'bridge');
  assert.equal(b.Entrypoint, undefined, 'the image entrypoint stays unless overridden');
  assert.equal(b.Cmd, undefined);
});

test('a startup boost: NanoCpus of the boost, the type\'s own cpu in a label (what the boost\'s end sets, also after a restart)', () => {
  const b = createContainerBody(base, { pidsLimit: 100, boostCpu: 1 }) as any;
  assert.equal(b.HostConfig.NanoCpus, 1_000_000_000);
  assert.equal(b.Labels['dev.pier.cpu'], '0.25');
  assert.equal((createContainerBody(base, { pidsLimit: 100 }) as any).Labels['dev.pier.cpu'], undefined, 'no label without a boost');
  // recover() ends a boost only to a limit Pier could have written: never lifts a limit on a label it cannot read.
  assert.equal(boostLimitOf(b.Labels), 0.25);
  for (const bad of ['', '0', '-1', 'lots', 'Infinity', 'NaN']) assert.equal(boostLimitOf({ 'dev.pier.cpu': bad }), undefined, `label ${JSON.stringify(bad)}`);
  assert.equal(boostLimitOf(null), undefined, 'no labels');
});

test('overrides, private network aliases and privileged mode', () => {
  const b = createContainerBody({ ...base, entrypoint: ['/bin/app'], command: ['--serve'], workdir: '/srv', network: 'pier-app1', networkAliases: ['api'], privileged: true }, { pidsLimit: 1 }) as any;
  assert.deepEqual(b.Entrypoint, ['/bin/app']);
  assert.deepEqual(b.Cmd, ['--serve']);
  assert.equal(b.WorkingDir, '/srv');
  assert.equal(b.HostConfig.NetworkMode, 'pier-app1');
  assert.deepEqual(b.NetworkingConfig, { EndpointsConfig: { 'pier-app1': { Aliases: ['api'] } } });
  assert.equal(b.HostConfig.Privileged, true);
  assert.deepEqual(b.HostConfig.CapDrop, []);
});

test('image references split into fromImage and tag', () => {
  assert.deepEqual(pullParams('nginx'), { fromImage: 'nginx', tag: 'latest' });
  assert.deepEqual(pullParams('localhost:5000/team/app'), { fromImage: 'localhost:5000/team/app', tag: 'latest' });
  assert.deepEqual(pullParams('localhost:5000/team/app:v2'), { fromImage: 'localhost:5000/team/app', tag: 'v2' });
  assert.deepEqual(pullParams('app@sha256:abc'), { fromImage: 'app', tag: 'sha256:abc' });
});

test('registry auth is base64url JSON and absent without credentials', () => {
  assert.equal(registryAuthHeader(undefined), undefined);
  const h = registryAuthHeader({ username: 'u', password: 'p', serveraddress: 'r.example' })!;
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { username: 'u', password: 'p', serveraddress: 'r.example' });
  // URL-safe alphabet with padding (Go's base64.URLEncoding): an unpadded value makes older engines drop the credentials.
  const odd = registryAuthHeader({ username: 'u?>', password: 'p~~~', serveraddress: 'r' })!;
  assert.match(odd, /^[A-Za-z0-9_-]+=*$/);
  assert.equal(odd.length % 4, 0);
});

test('stats: cpu percent from deltas, memory without inactive page cache', () => {
  const s = statsFromDocker({
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 10_000_000_000 },
    memory_stats: { usage: 50_000_000, limit: 100_000_000, stats: { total_inactive_file: 10_000_000 } },
  });
  assert.deepEqual(s, { cpuPercent: 20, memoryBytes: 40_000_000, memoryLimitBytes: 100_000_000 });
  assert.deepEqual(statsFromDocker({}), { cpuPercent: 0, memoryBytes: 0, memoryLimitBytes: 0 });
});

test("docker's since parameter carries nanoseconds after the dot", () => {
  assert.equal(dockerTimestamp(new Date(1_700_000_000_123)), '1700000000.123000000');
  assert.equal(dockerTimestamp(new Date(1_700_000_000_005)), '1700000000.005000000');
});

test('the disk limit becomes StorageOpt.size only where the engine enforces it', () => {
  const spec = { ...base, diskBytes: 2560 * 1024 * 1024 };
  assert.deepEqual((createContainerBody(spec, { pidsLimit: 1, diskQuota: true }) as any).HostConfig.StorageOpt, { size: String(2560 * 1024 * 1024) });
  assert.equal((createContainerBody(spec, { pidsLimit: 1 }) as any).HostConfig.StorageOpt, undefined);
  assert.equal((createContainerBody(base, { pidsLimit: 1, diskQuota: true }) as any).HostConfig.StorageOpt, undefined, 'no disk in the spec, no limit');
});

test('volumes become read-write, unpropagated binds of their mounted host directories; none without volumes', () => {
  assert.equal((createContainerBody(base, { pidsLimit: 100 }) as any).HostConfig.Mounts, undefined);
  const b = createContainerBody({ ...base, volumes: [{ volumeId: 'v1', hostPath: '/var/lib/pier/volumes/mnt/v1', path: '/data/' }] }, { pidsLimit: 100 }) as any;
  assert.deepEqual(b.HostConfig.Mounts, [{ Type: 'bind', Source: '/var/lib/pier/volumes/mnt/v1', Target: '/data', ReadOnly: false, BindOptions: { Propagation: 'rprivate' } }]);
  assert.equal(b.HostConfig.Binds, undefined, 'Mounts, not Binds: a missing source is an error, never created by the engine');
});
