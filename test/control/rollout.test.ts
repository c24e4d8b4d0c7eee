// Table tests of the reconcilers over the in-memory state and the scripted fake runtime: given rows and driver
// behaviour, expect actions (runtime calls), statuses and events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition, workerDefinition, type World } from './world.ts';

async function firstHealthy(w: World, def = webDefinition()) {
  const { service, deployment } = await w.createService(def);
  await w.settle();
  return { service, deployment };
}

test('a first web deployment walks PENDING → HEALTHY, becomes ACTIVE, and the service and app turn HEALTHY', async () => {
  const w = makeWorld();
  const { service, deployment } = await firstHealthy(w);
  const dep = w.deployment(deployment.id);
  assert.equal(dep.status, 'HEALTHY');
  assert.equal(dep.role, 'ACTIVE');
  assert.ok(dep.allocated_at && dep.succeeded_at);
  assert.deepEqual(w.regionalsOf(dep.id).map((r) => [r.status, r.role]), [['HEALTHY', 'ACTIVE']]);
  const [inst] = w.instancesOf(dep.id);
  assert.equal(inst.status, 'HEALTHY');
  assert.equal(inst.replica_index, 0);
  assert.equal(w.service(service.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).active_deployment_id, dep.id);
  assert.equal(w.state.apps.get(w.app.id)!.status, 'HEALTHY');
  assert.deepEqual(w.eventTypes(dep.id).slice(0, 3), ['deployment_provisioning', 'deployment_scheduled', 'deployment_allocating']);
  assert.deepEqual(w.eventTypes(inst.id), ['instance_created', 'instance_starting', 'instance_healthy']);
  assert.ok(w.eventTypes(service.id).includes('deployment_promoted'));
  // What ran: one start with the definition's image, port, env, limits, labels and mesh aliases.
  const spec = w.runtime.workloadOf(inst.id)!.spec;
  assert.equal(spec.image, 'example/api:1');
  assert.deepEqual(spec.ports, [8000]);
  assert.equal(spec.env.KOYEB_SERVICE_NAME, 'api');
  assert.equal(spec.env.PORT, '8000');
  assert.equal(spec.labels.deployment_id, dep.id);
  assert.deepEqual(spec.networkAliases, ['api', 'api.shop.internal']);
  assert.ok(spec.memoryBytes > 0 && spec.cpu > 0);
  assert.deepEqual(w.state.logs.filter((l) => l.stream === 'koyeb').map((l) => l.msg).slice(0, 2),
    ['Instance created. Preparing to start...', 'Instance is starting... Waiting for health checks to pass.']);
  // Routes: the app host, the route, one healthy upstream.
  const routes = await w.controller.routes();
  assert.equal(routes.length, 1);
  assert.deepEqual(routes[0].hosts, ['shop-acme.pier.test']);
  assert.equal(routes[0].routes[0].path, '/');
  assert.deepEqual(routes[0].routes[0].upstreams.map((u) => u.instanceId), [inst.id]);
  assert.ok(w.routeChanges > 0);
  assert.deepEqual(w.errors, []);
});

test('a first deployment is routed from its creation on: every table has its route, held while it starts, served before its promotion', async () => {
  const w = makeWorld();
  const { service, deployment } = await w.createService(webDefinition());
  const seen: string[] = [];
  for (let pass = 0; pass < 30; pass++) {
    const [table] = await w.controller.routes();
    const route = table.routes.find((r) => r.path === '/');
    assert.ok(route, `pass ${pass}: the route is published before the promotion (deployment ${w.deployment(deployment.id).status})`);
    const dep = w.deployment(deployment.id);
    const healthy = w.instancesOf(dep.id).filter((i) => i.status === 'HEALTHY').map((i) => i.id);
    assert.deepEqual(route.upstreams.map((u) => u.instanceId), healthy, `pass ${pass}: upstreams are the HEALTHY instances`);
    if (dep.status === 'STARTING' && healthy.length === 0) assert.equal(table.sleeping, true, `pass ${pass}: held while its instances start`);
    seen.push(`${dep.status}/${w.service(service.id).active_deployment_id === dep.id ? 'active' : 'first'}/${route.upstreams.length}`);
    if (w.service(service.id).active_deployment_id === dep.id) break;
    await w.controller.reconcileOnce();
  }
  assert.equal(seen.at(-1), 'HEALTHY/active/1', seen.join(' '));
  assert.ok(seen.some((s) => s.endsWith('/first/0')), seen.join(' '));
});

test('reconciling a settled world changes nothing and calls the runtime for nothing', async () => {
  const w = makeWorld();
  await firstHealthy(w);
  const writes = w.state.writes;
  const calls = w.runtime.calls.length;
  await w.controller.reconcileOnce();
  await w.controller.reconcileOnce();
  assert.equal(w.state.writes, writes);
  assert.equal(w.runtime.calls.length, calls);
});

test('a worker is healthy once running (no ports, no checks, no routes)', async () => {
  const w = makeWorld();
  const { service, deployment } = await firstHealthy(w, workerDefinition());
  assert.equal(w.instancesOf(deployment.id)[0].status, 'HEALTHY');
  assert.equal(w.service(service.id).status, 'HEALTHY');
  assert.deepEqual((await w.controller.routes())[0].routes, []);
});

const failures: { name: string; script: () => import('./fake-runtime.ts').Behaviour; expect: RegExp }[] = [
  { name: 'the image cannot be started', script: () => ({ startError: 'image example/api:1 not found' }), expect: /Instance failed to start: image example\/api:1 not found/ },
  { name: 'every start exits with code 1', script: () => ({ exit: { code: 1 }, logs: ['listening...', 'Error: DATABASE_URL is not set'] }), expect: /keeps crashing.*exited with code 1 after .*Error: DATABASE_URL is not set/s },
  { name: 'every start crashes in Node',
    script: () => ({ exit: { code: 1 }, logs: ['starting'], stderr: ['/app/server.js:3', '', '', '', 'SyntaxError: Unexpected end of input', '    at wrapSafe (node:internal/modules/cjs/loader:1464:18)', '', 'Node.js v20.20.2'] }),
    expect: /keeps crashing.*exited with code 1 after .*: SyntaxError: Unexpected end of input \(at \/app\/server\.js:3\)$/s },
  { name: 'every start is OOM-killed', script: () => ({ exit: { code: 137, oom: true } }), expect: /keeps crashing.*out of memory/s },
];
for (const f of failures) {
  test(`a first deployment whose instance fails (${f.name}) ends in ERROR and the service is UNHEALTHY`, async () => {
    const w = makeWorld();
    w.runtime.script = f.script;
    const { service, deployment } = await w.createService(webDefinition());
    for (let i = 0; i < 10; i++) { await w.settle(); w.clock.advance(10_000); }
    const [inst] = w.instancesOf(deployment.id);
    assert.equal(inst.status, 'ERROR');
    assert.match(inst.messages[0], f.expect);
    const dep = w.deployment(deployment.id);
    assert.equal(dep.status, 'ERROR');
    assert.match(dep.messages[0], /Deployment failed: instance .* failed/);
    assert.equal(w.service(service.id).status, 'UNHEALTHY');
    assert.equal(w.runtime.running().length, 0);
    assert.deepEqual(w.errors, []);
  });
}

test('an exited instance restarts after an exponential backoff and recovers', async () => {
  const w = makeWorld();
  w.runtime.script = (_spec, attempt) => (attempt === 1 ? { exit: { code: 2 }, logs: ['boom'] } : {});
  const { deployment } = await w.createService(webDefinition());
  await w.settle();
  let [inst] = w.instancesOf(deployment.id);
  assert.equal(inst.status, 'UNHEALTHY');
  assert.match(inst.messages[0], /exited with code 2 after .*: boom/);
  assert.equal(w.runtime.calls.filter((c) => c.startsWith('start')).length, 1);
  w.clock.advance(999); // backoff is 1 s for the first restart
  await w.settle();
  assert.equal(w.runtime.calls.filter((c) => c.startsWith('start')).length, 1);
  w.clock.advance(1);
  await w.settle();
  [inst] = w.instancesOf(deployment.id);
  assert.equal(inst.status, 'HEALTHY');
  assert.ok(w.eventTypes(inst.id).includes('instance_restarted'));
  assert.deepEqual(w.runtime.calls.filter((c) => c.startsWith('start') || c.startsWith('remove')).map((c) => c.split(' ')[0]), ['start', 'remove', 'start']);
});

test('a workload lost with its host (Swarm node down) is replaced at once: no crash backoff, not counted toward a crash loop', async () => {
  const w = makeWorld();
  const { deployment } = await w.createService(webDefinition());
  await w.settle();
  for (let round = 1; round <= 5; round++) { // more than maxRestarts (3): host losses are no crash loop
    const [inst] = w.instancesOf(deployment.id);
    assert.equal(inst.status, 'HEALTHY', `round ${round}`);
    w.runtime.loseHost(inst.id, 'node was-n2 (region was) is down');
    await w.settle(); // no clock advance: nothing waits for a backoff
    const [after] = w.instancesOf(deployment.id);
    assert.equal(after.id, inst.id, 'the same instance row, a new workload');
    assert.equal(after.status, 'HEALTHY', `round ${round}: replaced without a backoff`);
  }
  assert.equal(w.runtime.calls.filter((c) => c.startsWith('start')).length, 6);
  assert.deepEqual(w.errors, []);
});

test('rolling update: the new deployment starts while the old serves, then becomes ACTIVE and the old one STOPS', async () => {
  const w = makeWorld();
  const { service, deployment: v1 } = await firstHealthy(w);
  const [old] = w.instancesOf(v1.id);
  const v2 = await w.deploy(service.id, webDefinition({ docker: { image: 'example/api:2' } }));
  await w.controller.reconcileOnce(); // one pass: v2 allocated and started, v1 still serving
  assert.equal(w.deployment(v1.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).status, 'HEALTHY');
  await w.settle();
  assert.equal(w.deployment(v2.id).status, 'HEALTHY');
  assert.equal(w.deployment(v2.id).role, 'ACTIVE');
  assert.equal(w.deployment(v1.id).status, 'STOPPED');
  assert.equal(w.service(service.id).active_deployment_id, v2.id);
  assert.equal(w.service(service.id).status, 'HEALTHY');
  assert.equal(w.state.instances.get(old.id)!.status, 'STOPPED');
  assert.deepEqual(w.drained, [old.id]);
  const calls = w.runtime.calls;
  const [fresh] = w.instancesOf(v2.id);
  assert.ok(calls.indexOf(`start ${fresh.id}`) < calls.indexOf(`stop ${old.id}`), 'new starts before old stops');
  assert.deepEqual(w.eventTypes(v1.id).slice(-2), ['deployment_stopping', 'deployment_stopped']);
  const routes = await w.controller.routes();
  assert.deepEqual(routes[0].routes[0].upstreams.map((u) => u.instanceId), [fresh.id]);
});

test('a new deployment that never becomes healthy fails after the rollout timeout; the old one keeps serving', async () => {
  const w = makeWorld();
  const { service, deployment: v1 } = await firstHealthy(w);
  w.runtime.script = () => ({ healthy: false });
  const v2 = await w.deploy(service.id, webDefinition({ docker: { image: 'example/api:bad' } }));
  await w.settle();
  assert.equal(w.deployment(v2.id).status, 'UNHEALTHY');
  w.clock.advance(60_000);
  await w.settle();
  assert.equal(w.deployment(v2.id).status, 'ERROR');
  assert.match(w.deployment(v2.id).messages[0], /not healthy within 60 s/);
  assert.equal(w.deployment(v1.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).active_deployment_id, v1.id);
  const svc = w.service(service.id);
  assert.equal(svc.status, 'DEGRADED');
  assert.ok(svc.messages.some((m) => m.includes(v2.id)), `message names the failed deployment: ${svc.messages}`);
  assert.ok(w.instancesOf(v2.id).every((i) => i.status === 'STOPPED'));
  assert.equal(w.runtime.running().length, 1);
});

test('a crash-looping new deployment fails; the old one keeps serving', async () => {
  const w = makeWorld();
  const { service, deployment: v1 } = await firstHealthy(w);
  w.runtime.script = () => ({ exit: { code: 3 } });
  const v2 = await w.deploy(service.id, webDefinition({ docker: { image: 'example/api:crash' } }));
  for (let i = 0; i < 10; i++) { await w.settle(); w.clock.advance(10_000); }
  assert.equal(w.deployment(v2.id).status, 'ERROR');
  assert.equal(w.deployment(v1.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).status, 'DEGRADED');
});

test('IMMEDIATE strategy stops the old deployment before starting the new one', async () => {
  const w = makeWorld();
  const def = webDefinition({ strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE' } });
  const { service, deployment: v1 } = await firstHealthy(w, def);
  const [old] = w.instancesOf(v1.id);
  const v2 = await w.deploy(service.id, { ...def, docker: { image: 'example/api:2' } });
  await w.settle();
  const [fresh] = w.instancesOf(v2.id);
  assert.ok(w.runtime.calls.indexOf(`stop ${old.id}`) < w.runtime.calls.indexOf(`start ${fresh.id}`), 'old stops first');
  assert.equal(w.deployment(v1.id).status, 'STOPPED');
  assert.equal(w.deployment(v2.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).active_deployment_id, v2.id);
});

test('ROLLING: instances are replaced one at a time, each old one stopping only once a new one is healthy', async () => {
  const w = makeWorld();
  const def = webDefinition({ scalings: [{ min: 2, max: 2 }] });
  const { service, deployment: v1 } = await firstHealthy(w, def);
  // Replica 1 of the new deployment fails its checks: the rollout stops half way, capacity never drops.
  w.runtime.script = (spec) => ({ healthy: spec.labels.replica_index !== '1' });
  const v2 = await w.deploy(service.id, { ...def, docker: { image: 'example/api:2' } });
  await w.controller.reconcileOnce();
  assert.equal(w.instancesOf(v2.id).length, 1, 'one new instance at a time');
  assert.equal(w.instancesOf(v1.id).filter((i) => i.status === 'HEALTHY').length, 2, 'no old instance stops before a new one is healthy');
  await w.settle();
  const byStatus = (id: string) => w.instancesOf(id).map((i) => `${i.replica_index}:${i.status}`).sort();
  assert.deepEqual(byStatus(v2.id), ['0:HEALTHY', '1:UNHEALTHY']);
  assert.deepEqual(byStatus(v1.id), ['0:HEALTHY', '1:STOPPED'], 'the old deployment yielded one instance for the healthy new one');
  assert.equal(w.service(service.id).active_deployment_id, v1.id);
  assert.equal(w.deployment(v1.id).status, 'HEALTHY');
  const serving = (await w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId).sort();
  const expected = [...w.instancesOf(v1.id), ...w.instancesOf(v2.id)].filter((i) => i.status === 'HEALTHY').map((i) => i.id).sort();
  assert.deepEqual(serving, expected, 'healthy old and new instances both serve during the rollout');
  w.runtime.script = () => ({});
  w.clock.advance(1000); // the failing replica restarts after its backoff, healthy this time
  await w.settle();
  assert.equal(w.service(service.id).active_deployment_id, v2.id);
  assert.equal(w.deployment(v1.id).status, 'STOPPED');
  assert.ok(w.instancesOf(v1.id).every((i) => i.status === 'STOPPED'));
  assert.deepEqual(byStatus(v2.id), ['0:HEALTHY', '1:HEALTHY']);
});

test('ROLLING: a new deployment that fails gives the old one back its full count', async () => {
  const w = makeWorld();
  const def = webDefinition({ scalings: [{ min: 2, max: 2 }] });
  const { service, deployment: v1 } = await firstHealthy(w, def);
  w.runtime.script = (spec) => (spec.image === 'example/api:2' && spec.labels.replica_index === '1' ? { exit: { code: 2 } } : {});
  const v2 = await w.deploy(service.id, { ...def, docker: { image: 'example/api:2' } });
  for (let i = 0; i < 10; i++) { await w.settle(); w.clock.advance(10_000); }
  assert.equal(w.deployment(v2.id).status, 'ERROR');
  assert.equal(w.service(service.id).active_deployment_id, v1.id);
  assert.equal(w.service(service.id).status, 'DEGRADED');
  assert.equal(w.instancesOf(v1.id).filter((i) => i.status === 'HEALTHY').length, 2, 'a replacement for the yielded instance runs');
  assert.equal(w.instancesOf(v1.id).filter((i) => i.status === 'STOPPED').length, 1, 'the old deployment had yielded one instance');
});

test('BLUE_GREEN: the full new set is healthy before the switch', async () => {
  const w = makeWorld();
  const def = webDefinition({ strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN' }, scalings: [{ min: 2, max: 2 }] });
  const { service, deployment: v1 } = await firstHealthy(w, def);
  // Replica 1 of the new deployment fails its checks: 1 of 2 healthy is not enough to switch.
  w.runtime.script = (spec) => ({ healthy: spec.labels.replica_index !== '1' });
  const v2 = await w.deploy(service.id, { ...def, docker: { image: 'example/api:2' } });
  await w.controller.reconcileOnce();
  assert.equal(w.instancesOf(v2.id).length, 2, 'the full new set starts at once');
  await w.settle();
  assert.equal(w.deployment(v2.id).status, 'DEGRADED');
  assert.equal(w.service(service.id).active_deployment_id, v1.id);
  assert.equal(w.instancesOf(v1.id).filter((i) => i.status === 'HEALTHY').length, 2);
  const serving = (await w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId).sort();
  assert.deepEqual(serving, w.instancesOf(v1.id).map((i) => i.id).sort(), 'only the old set serves before the switch');
  w.runtime.script = () => ({});
  w.clock.advance(1000); // the failing replica restarts after its backoff, healthy this time
  await w.settle();
  assert.equal(w.service(service.id).active_deployment_id, v2.id);
  assert.equal(w.deployment(v1.id).status, 'STOPPED');
});

test('cancel: a CANCELING deployment becomes CANCELED without starting anything', async () => {
  const w = makeWorld();
  const { deployment } = await w.createService(webDefinition());
  w.state.deployments.get(deployment.id)!.status = 'CANCELING';
  await w.settle();
  assert.equal(w.deployment(deployment.id).status, 'CANCELED');
  assert.deepEqual(w.regionalsOf(deployment.id).map((r) => r.status), ['CANCELED']);
  assert.equal(w.runtime.calls.length, 0);
});

test('a newer deployment supersedes one still in progress', async () => {
  const w = makeWorld();
  const { service, deployment: v1 } = await w.createService(webDefinition());
  const v2 = await w.deploy(service.id, webDefinition({ docker: { image: 'example/api:2' } }));
  await w.settle();
  assert.equal(w.deployment(v1.id).status, 'CANCELED');
  assert.equal(w.deployment(v2.id).status, 'HEALTHY');
  assert.equal(w.instancesOf(v1.id).length, 0);
});

test('pause stops every instance (deployments STOPPED, service PAUSED); resume rolls out a new deployment', async () => {
  const w = makeWorld();
  const { service, deployment: v1 } = await firstHealthy(w);
  await w.pause(service.id);
  assert.equal(w.service(service.id).status, 'PAUSING');
  await w.settle();
  assert.equal(w.service(service.id).status, 'PAUSED');
  assert.ok(w.service(service.id).paused_at);
  assert.equal(w.deployment(v1.id).status, 'STOPPED');
  assert.equal(w.runtime.running().length, 0);
  assert.deepEqual((await w.controller.routes())[0].routes[0].upstreams, []);
  const v2 = await w.resume(service.id);
  assert.equal(w.service(service.id).status, 'RESUMING');
  assert.equal(w.deployment(v2.id).metadata.trigger?.type, 'RESUME');
  await w.settle();
  assert.equal(w.deployment(v2.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).active_deployment_id, v2.id);
  assert.equal(w.runtime.running().length, 1);
});

test('delete stops and removes every instance and the app network, then the service is DELETED', async () => {
  const w = makeWorld();
  const { service } = await firstHealthy(w);
  assert.equal(w.runtime.networks.size, 1);
  await w.remove(service.id);
  // One pass first: the app roll-up sees its only service DELETING, which must not make the app DELETING (a
  // DELETING app with no services ends DELETED: deleting the last service used to delete the app too).
  await w.controller.reconcileOnce();
  assert.notEqual(w.state.apps.get(w.app.id)!.status, 'DELETING');
  await w.settle();
  assert.equal(w.service(service.id).status, 'DELETED');
  assert.equal(w.runtime.workloads.size, 0);
  assert.equal(w.runtime.networks.size, 0);
  assert.ok([...w.state.instances.values()].every((i) => i.status === 'STOPPED'));
  assert.notEqual(w.state.apps.get(w.app.id)!.status, 'DELETED', 'the app outlives its last service');
});

test('health: a healthy instance that fails its checks turns UNHEALTHY, leaves the routes, and restarts at restart_limit', async () => {
  const w = makeWorld();
  const { service, deployment } = await firstHealthy(w);
  const [inst] = w.instancesOf(deployment.id);
  w.runtime.setHealthy(inst.id, false);
  await w.controller.reconcileOnce();
  assert.equal(w.state.instances.get(inst.id)!.status, 'UNHEALTHY');
  assert.match(w.state.instances.get(inst.id)!.messages[0], /HTTP health check failed on port 8000: GET \/health returned 503/);
  assert.deepEqual((await w.controller.routes())[0].routes[0].upstreams, []);
  await w.settle();
  assert.equal(w.deployment(deployment.id).status, 'UNHEALTHY');
  assert.equal(w.service(service.id).status, 'UNHEALTHY');
  // restart_limit = 3 consecutive failures → the workload is replaced after the backoff.
  assert.ok(w.eventTypes(inst.id).includes('health_check_restart'));
  w.clock.advance(1000);
  await w.settle();
  assert.equal(w.state.instances.get(inst.id)!.status, 'HEALTHY');
  assert.equal(w.service(service.id).status, 'HEALTHY');
});

test('a lost instance (the runtime forgot it) is replaced by a new instance row', async () => {
  const w = makeWorld();
  const { deployment } = await firstHealthy(w);
  const [inst] = w.instancesOf(deployment.id);
  w.runtime.lose(inst.id);
  await w.settle();
  const rows = w.instancesOf(deployment.id);
  assert.equal(rows.length, 2);
  assert.equal(w.state.instances.get(inst.id)!.status, 'STOPPED');
  assert.match(w.state.instances.get(inst.id)!.messages[0], /Instance lost/);
  assert.equal(rows.find((i) => i.id !== inst.id)!.status, 'HEALTHY');
  assert.equal(rows.find((i) => i.id !== inst.id)!.replica_index, 0);
});

test('manual scaling adds and removes instances without a new deployment', async () => {
  const w = makeWorld();
  const { service, deployment } = await firstHealthy(w, webDefinition({ scalings: [{ min: 1, max: 3 , targets: [{ requests_per_second: { value: 10 } }] }] }));
  w.state.scalings.set(service.id, [{ instances: 3 }]);
  await w.settle();
  assert.deepEqual(w.instancesOf(deployment.id).filter((i) => i.status === 'HEALTHY').map((i) => i.replica_index).sort(), [0, 1, 2]);
  w.state.scalings.set(service.id, [{ instances: 1 }]);
  await w.settle();
  assert.deepEqual(w.instancesOf(deployment.id).filter((i) => i.status === 'HEALTHY').map((i) => i.replica_index), [0]);
  assert.equal(w.runtime.running().length, 1);
});

test('git sources without a builder end in ERROR with a clear message', async () => {
  const w = makeWorld();
  const def = webDefinition({ docker: undefined, git: { repository: 'github.com/acme/api', branch: 'main' } });
  const { service, deployment } = await w.createService(def);
  await w.settle();
  assert.equal(w.deployment(deployment.id).status, 'ERROR');
  assert.match(w.deployment(deployment.id).messages[0], /git sources are not built yet/);
  assert.equal(w.service(service.id).status, 'UNHEALTHY');
});

test('logs: stdout lines are stored with secret values redacted', async () => {
  const w = makeWorld();
  // A name the API accepts (secret names are lower-case, dashes): the world creates it through the real action.
  await w.createSecret({ name: 'db-password', value: 's3cr3t-value' });
  w.runtime.script = () => ({ logs: ['connecting with s3cr3t-value', 'ready'] });
  const { deployment } = await firstHealthy(w, webDefinition({ env: [{ key: 'DB_PASSWORD', secret: 'db-password' }] }));
  const [inst] = w.instancesOf(deployment.id);
  assert.equal(w.runtime.workloadOf(inst.id)!.spec.env.DB_PASSWORD, 's3cr3t-value');
  w.runtime.print(inst.id, 'late line', 'stderr');
  await w.controller.stop(); // waits for the followers to write what they read
  const lines = w.state.logs.filter((l) => l.instance_id === inst.id && l.stream !== 'koyeb').map((l) => `${l.stream}:${l.msg}`);
  assert.deepEqual(lines, ['stdout:connecting with ****', 'stdout:ready', 'stderr:late line']);
  assert.ok(w.state.logs.every((l) => !l.msg.includes('s3cr3t-value')));
});

test('recover after a control-plane restart: adopts running workloads, finishes an interrupted start, removes orphans', async () => {
  const w = makeWorld();
  const { service, deployment } = await firstHealthy(w);
  const [inst] = w.instancesOf(deployment.id);
  await w.controller.stop();
  // A workload whose row is gone (orphan), and a row stuck ALLOCATING whose workload was already started.
  await w.runtime.start({ instanceId: 'ghost', labels: {}, env: {}, ports: [], cpu: 1, memoryBytes: 1 });
  const v2 = await w.deploy(service.id, webDefinition({ docker: { image: 'example/api:2' } }));
  const ctl = w.restartController();
  // Simulate the kill -9 window: v2 got its instance row and its workload, but the row still says ALLOCATING.
  await ctl.reconcileOnce(); // recovers first: adopts v1's workload, removes the orphan
  assert.equal(w.runtime.workloadOf('ghost'), undefined, 'orphan removed');
  assert.equal(w.state.instances.get(inst.id)!.status, 'HEALTHY', 'v1 adopted, not lost');
  const [pending] = w.instancesOf(v2.id);
  w.restartController();
  if (pending && pending.status !== 'ALLOCATING') w.state.instances.get(pending.id)!.status = 'ALLOCATING';
  const startsBefore = w.runtime.calls.filter((c) => c.startsWith('start')).length;
  await w.settle();
  assert.equal(w.runtime.calls.filter((c) => c.startsWith('start')).length, startsBefore, 'nothing started twice');
  assert.equal(w.deployment(v2.id).status, 'HEALTHY');
  assert.equal(w.service(service.id).active_deployment_id, v2.id);
  assert.equal(w.state.instances.get(inst.id)!.status, 'STOPPED');
  const running = w.runtime.running().map((r) => r.spec.instanceId);
  assert.deepEqual(running, [pending.id]);
});

test('recover: a live row whose workload vanished while the control plane was down is replaced', async () => {
  const w = makeWorld();
  const { deployment } = await firstHealthy(w);
  const [inst] = w.instancesOf(deployment.id);
  await w.controller.stop();
  w.runtime.lose(inst.id);
  const ctl = w.restartController();
  await ctl.recover();
  await w.settle();
  assert.equal(w.state.instances.get(inst.id)!.status, 'STOPPED');
  const fresh = w.instancesOf(deployment.id).filter((i) => i.id !== inst.id);
  assert.deepEqual(fresh.map((i) => i.status), ['HEALTHY']);
});

test('start() runs the loop: recover, then passes until the world settles; kick() brings new work in at once', async () => {
  const w = makeWorld({ intervals: { resyncMs: 60_000 } });
  const { service } = await w.createService(webDefinition());
  await w.controller.start();
  try {
    // Bounded wait on the outcome (the loop runs passes back-to-back while they make progress).
    for (let i = 0; i < 200 && w.service(service.id).status !== 'HEALTHY'; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(w.service(service.id).status, 'HEALTHY');
    const v2 = await w.deploy(service.id, webDefinition({ docker: { image: 'example/api:2' } }));
    w.controller.kick();
    for (let i = 0; i < 200 && w.service(service.id).active_deployment_id !== v2.id; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(w.service(service.id).active_deployment_id, v2.id);
  } finally {
    await w.controller.stop();
  }
  assert.deepEqual(w.errors, []);
});
