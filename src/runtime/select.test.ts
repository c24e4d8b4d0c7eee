import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimePreference, selectRuntime } from './select.ts';

const deadDocker = { socketPath: '/nonexistent/pier-test/docker.sock' };
const noCgroups = { stateDir: '/nonexistent/pier-test-state', cgroupLayout: { version: 'v2' as const, root: '/nonexistent/pier-test-cgroup' } };

test('an explicit docker choice fails with the engine-not-reachable reason', async () => {
  await assert.rejects(selectRuntime('docker', { docker: deadDocker }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /Docker engine not reachable at \/nonexistent\/pier-test\/docker.sock: start it with scripts\/setup-host.sh or set PIER_RUNTIME=process/);
    return true;
  });
});

test('auto reports every reason when no runtime works', async () => {
  await assert.rejects(selectRuntime('auto', { docker: deadDocker, process: noCgroups }), (err: Error) => {
    assert.match(err.message, /no runtime works on this host: Docker engine not reachable.*process runtime/);
    assert.match(err.message, /Run `\.\/pier setup --yes`/);
    return true;
  });
});

test('PIER_RUNTIME parsing', () => {
  assert.equal(runtimePreference(undefined), 'auto');
  assert.equal(runtimePreference(' Docker '), 'docker');
  assert.equal(runtimePreference('process'), 'process');
  assert.equal(runtimePreference('swarm'), 'swarm');
  assert.equal(runtimePreference('gVisor'), 'gvisor');
  assert.equal(runtimePreference('microvm'), 'microvm');
  assert.throws(() => runtimePreference('podman'), /must be auto, docker, gvisor, microvm, process or swarm/);
});
