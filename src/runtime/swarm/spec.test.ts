import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANCHOR_LABEL, anchorServiceName, anchorSpec, instanceTask, pauseConfig, pauseExecutable, pauseLayer, volumePlacement, nodeAddress, serviceSpec, splitRef, taskEndpoints, taskExit, type NodeJson, type TaskJson } from './spec.ts';
import { readTar } from './push.ts';
import { swarmOptionsFromEnv } from './config.ts';

const base = { instanceId: 'i-1', labels: { region: 'fra', service_id: 's-1' }, image: 'x', env: { PORT: '8000', SECRET: 'v' }, ports: [8000], cpu: 0.5, memoryBytes: 64 << 20 };

test('a service spec pins the region, the limits, no restarts, host-mode ports and Pier labels', () => {
  const s = serviceSpec({ ...base, command: ['serve'] }, 'reg:5000/x@sha256:1', { stopGraceMs: 4000, pidsLimit: 100, labels: { 'dev.pier.scope': 'sc' } }) as any;
  assert.equal(s.Name, 'pier-i-1');
  assert.deepEqual(s.TaskTemplate.Placement.Constraints, ['node.labels.dev.pier.region==fra']);
  assert.deepEqual(s.TaskTemplate.Resources.Limits, { NanoCPUs: 500_000_000, MemoryBytes: 64 << 20, Pids: 100 });
  assert.equal(s.TaskTemplate.RestartPolicy.Condition, 'none');
  assert.equal(s.TaskTemplate.ContainerSpec.StopGracePeriod, 4_000_000_000);
  assert.deepEqual(s.TaskTemplate.ContainerSpec.Args, ['serve']);
  assert.equal(s.TaskTemplate.ContainerSpec.Command, undefined, 'the image entrypoint stays');
  assert.deepEqual(s.EndpointSpec, { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 8000, PublishMode: 'host' }] });
  assert.equal(s.Labels['dev.pier.managed'], 'true');
  assert.equal(s.Labels['dev.pier.instance_id'], 'i-1');
  assert.equal(s.Labels['dev.pier.scope'], 'sc');
  assert.ok(!JSON.stringify(s.Labels).includes('SECRET'), 'env never lands in labels');
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 1 } });
});

test('an instance without region may run anywhere; a private network carries its aliases', () => {
  const s = serviceSpec({ ...base, labels: {}, network: 'app-net', networkAliases: ['api'] }, 'x', { stopGraceMs: 0, pidsLimit: 1 }) as any;
  assert.deepEqual(s.TaskTemplate.Placement.Constraints, []);
  assert.deepEqual(s.TaskTemplate.Networks, [{ Target: 'app-net', Aliases: ['api'] }]);
});

const task = (over: Partial<TaskJson['Status']>, createdAt = '2026-01-01T00:00:00Z', id = 't1'): TaskJson => ({
  ID: id, CreatedAt: createdAt, NodeID: 'n1', DesiredState: 'shutdown', Status: { Timestamp: '2026-01-01T00:00:05Z', State: 'failed', ...over },
});

test('exits: exit code from the container status, SIGKILL failures read as OOM, rejections as errors', () => {
  const three = taskExit(task({ ContainerStatus: { ContainerID: 'c', ExitCode: 3 } }));
  assert.equal(three.exitCode, 3);
  assert.equal(three.oomKilled, false);
  assert.equal(three.finishedAt, '2026-01-01T00:00:05.000Z');
  assert.equal(taskExit(task({ ContainerStatus: { ContainerID: 'c', ExitCode: 137 } })).oomKilled, true);
  const stopped = taskExit(task({ State: 'shutdown', ContainerStatus: { ContainerID: 'c', ExitCode: 137 } }));
  assert.equal(stopped.oomKilled, false, 'a stop Pier asked for is not an OOM kill');
  assert.equal(stopped.signal, 'SIGKILL');
  const rejected = taskExit(task({ State: 'rejected', Err: 'No such image: x' }));
  assert.equal(rejected.exitCode, null);
  assert.match(rejected.error ?? '', /Swarm could not run the instance: No such image: x/);
});

test('the instance task is the first one created; endpoints are node address plus published port', () => {
  const t = instanceTask([task({}, '2026-01-02T00:00:00Z', 'later'), task({}, '2026-01-01T00:00:00Z', 'first')]);
  assert.equal(t?.ID, 'first');
  const node: NodeJson = { ID: 'n1', Spec: {}, Status: { State: 'ready', Addr: '0.0.0.0' }, ManagerStatus: { Addr: '10.0.0.1:2377' } };
  assert.equal(nodeAddress(node), '10.0.0.1');
  const running = task({ State: 'running', PortStatus: { Ports: [{ Protocol: 'tcp', TargetPort: 8000, PublishedPort: 30001 }, { Protocol: 'udp', TargetPort: 53, PublishedPort: 30002 }] } });
  assert.deepEqual(taskEndpoints(running, node), [{ containerPort: 8000, host: '10.0.0.1', hostPort: 30001 }]);
  assert.deepEqual(taskEndpoints(running, undefined), []);
});

test('image references become registry repositories', () => {
  assert.deepEqual(splitRef('pier-test/busybox:1'), ['pier-test/busybox', '1']);
  assert.deepEqual(splitRef('nginx'), ['nginx', 'latest']);
  assert.deepEqual(splitRef('localhost:5000/a/b:2'), ['a/b', '2']);
  assert.deepEqual(splitRef('reg.example:5000/a@sha256:0123456789abcdef'), ['a', 'pinned-0123456789ab']);
});

test('PIER_SWARM_* settings are validated', () => {
  assert.throws(() => swarmOptionsFromEnv({}), /needs PIER_SWARM_HOST/);
  assert.throws(() => swarmOptionsFromEnv({ PIER_SWARM_HOST: 'tcp://1.2.3.4:2376' }), /unix socket/);
  const o = swarmOptionsFromEnv({ PIER_SWARM_HOST: 'unix:///run/m.sock', PIER_SWARM_REGISTRY: '10.0.0.100:5000', PIER_SWARM_NODE_SOCKETS: '10.0.0.1=/a.sock,10.0.0.2=unix:///b.sock', PIER_SWARM_STOP_GRACE_MS: '3000' });
  assert.deepEqual(o, { socketPath: '/run/m.sock', registry: '10.0.0.100:5000', nodeSockets: { '10.0.0.1': '/a.sock', '10.0.0.2': '/b.sock' }, stopGraceMs: 3000 });
  assert.throws(() => swarmOptionsFromEnv({ PIER_SWARM_HOST: '/m.sock', PIER_SWARM_REGISTRY: 'bad registry' }), /host\[:port\]/);
});

test('volumes: the instance is pinned to the node that keeps them and binds them; a volume without a node is refused (issue #20)', () => {
  const b = { instanceId: 'i1', labels: { region: 'fra' }, image: 'x', ports: [], cpu: 1, memoryBytes: 1 << 26, env: {} };
  const v1 = { volumeId: 'v1', hostPath: '/var/lib/docker/pier-volumes/mnt/v1', path: '/data/' };
  const v2 = { volumeId: 'v2', hostPath: '/var/lib/docker/pier-volumes/mnt/v2', path: '/logs', readOnly: true };
  assert.deepEqual(volumePlacement(b, new Map()), {});
  assert.deepEqual(volumePlacement({ ...b, volumes: [] }, new Map()), {});
  assert.deepEqual(volumePlacement({ ...b, volumes: [v1, v2] }, new Map([['v1', 'node-a'], ['v2', 'node-a']])), { node: 'node-a' });
  assert.match(volumePlacement({ ...b, volumes: [v1] }, new Map([['v1', undefined]])).problem ?? '', /volume v1 has no node on this Swarm/);
  assert.match(volumePlacement({ ...b, volumes: [v1, v2] }, new Map([['v1', 'node-a'], ['v2', 'node-b']])).problem ?? '', /different Swarm nodes/);
  assert.match(volumePlacement({ ...b, volumes: [{ ...v1, path: 'data' }] }, new Map([['v1', 'node-a']])).problem ?? '', /absolute path/);

  const s = serviceSpec({ ...b, volumes: [v1, v2] }, 'img', { stopGraceMs: 0, pidsLimit: 1, volumeNode: 'node-a' }) as any;
  assert.deepEqual(s.TaskTemplate.Placement.Constraints, ['node.labels.dev.pier.region==fra', 'node.id==node-a']);
  assert.deepEqual(s.TaskTemplate.ContainerSpec.Mounts, [
    { Type: 'bind', Source: v1.hostPath, Target: '/data', ReadOnly: false, BindOptions: { Propagation: 'rprivate' } },
    { Type: 'bind', Source: v2.hostPath, Target: '/logs', ReadOnly: true, BindOptions: { Propagation: 'rprivate' } },
  ]);
  assert.equal((serviceSpec(b, 'img', { stopGraceMs: 0, pidsLimit: 1 }) as any).TaskTemplate.ContainerSpec.Mounts, undefined);
  assert.throws(() => serviceSpec({ ...b, volumes: [v1] }, 'img', { stopGraceMs: 0, pidsLimit: 1 }), /needs the node/, 'never a bind on whichever node Swarm picks');
});

test('the network anchor: a global pause service on the overlay, whose one-file image layer tar reads back', () => {
  const body = anchorSpec('pier-app-a1', 'reg:5000/pier/pause@sha256:ab', { 'dev.pier.managed': 'true', 'dev.pier.scope': 's1' }) as {
    Name: string; Labels: Record<string, string>; Mode: unknown;
    TaskTemplate: { ContainerSpec: { Image: string; StopGracePeriod: number }; Networks: Array<{ Target: string }>; Placement: { Constraints: string[] } };
  };
  assert.equal(body.Name, anchorServiceName('pier-app-a1'));
  assert.deepEqual(body.Mode, { Global: {} });
  assert.deepEqual(body.TaskTemplate.Networks, [{ Target: 'pier-app-a1' }]);
  assert.equal(body.Labels[ANCHOR_LABEL], 'pier-app-a1');
  assert.equal(body.Labels['dev.pier.scope'], 's1');
  assert.equal(body.Labels['dev.pier.instance_id'], undefined, 'recover() must not take it for an instance');
  assert.deepEqual(body.TaskTemplate.Placement.Constraints, ['node.platform.arch==x86_64']);
  assert.equal(body.TaskTemplate.ContainerSpec.StopGracePeriod, 0);

  const elf = pauseExecutable();
  assert.deepEqual([...elf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(elf.readUInt16LE(18), 0x3e, 'x86-64');
  assert.equal(Number(elf.readBigUInt64LE(24)) - 0x400000, 120, 'entry at the code after the headers');
  assert.equal(Number(elf.readBigUInt64LE(96)), elf.length, 'the load segment covers the file');
  const layer = pauseLayer();
  assert.equal(layer.length % 512, 0);
  assert.deepEqual(readTar(layer).get('pause'), elf);
  const header = layer.subarray(0, 512);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  assert.equal(parseInt(header.subarray(148, 154).toString('ascii'), 8), sum, 'ustar checksum');
  assert.equal(header.subarray(100, 107).toString('ascii'), '0000755');
  const config = JSON.parse(pauseConfig('sha256:00').toString()) as { config: { Entrypoint: string[] }; architecture: string; rootfs: { diff_ids: string[] } };
  assert.deepEqual(config.config.Entrypoint, ['/pause']);
  assert.equal(config.architecture, 'amd64');
  assert.deepEqual(config.rootfs.diff_ids, ['sha256:00']);
});
