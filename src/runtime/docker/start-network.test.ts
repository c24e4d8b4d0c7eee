// The start path against a scripted engine on a unix socket: an app's first instance has its network made while the
// container is created, and started only once that network (firewall included) is ready; a network that fails
// leaves no container behind; an engine that looks the network up at create gets the create again once it exists;
// the first instances of two regions starting at once make one network, not two of one name; a start runc loses in a
// race is made once more from a fresh container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerRuntime } from './driver.ts';
import { GvisorRuntime } from './gvisor.ts';
import type { InstanceSpec } from '../contract.ts';

interface Script { networkMs: number; networkFails?: boolean; createChecksNetwork?: boolean; /** Which starts (1-based, in order of arrival) runc loses in its race. */ raceStarts?: number[]; /** The engine's answer to a lost start. */ raceMessage?: string }

/** A fake engine: records each call (method path, at its arrival or its answer) and answers what start() needs. */
async function fakeEngine(script: Script) {
  const dir = mkdtempSync(join(tmpdir(), 'pier-fake-engine-'));
  const socketPath = join(dir, 'docker.sock');
  const log: string[] = [];
  let networkMade = false;
  let starts = 0;
  // createChecksNetwork: the network is answered only after a create was refused (deterministic on a loaded box).
  let createRefused: () => void = () => {};
  const refused = new Promise<void>((r) => { createRefused = r; });
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    const call = `${req.method} ${url}`;
    log.push(call);
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    req.resume();
    req.on('end', () => {
      if (call.startsWith('GET /images/json')) return reply(200, []); // no image to probe disk quotas with: no disk
      if (call.startsWith('GET /images/')) return reply(200, { Id: 'sha256:img' });
      if (call.startsWith('GET /networks/')) return reply(404, { message: 'network not found' });
      if (call === 'POST /networks/create') {
        const after = script.createChecksNetwork ? refused : Promise.resolve();
        void after.then(() => setTimeout(() => {
          log.push('network made');
          if (script.networkFails) return reply(500, { message: 'could not create the bridge' });
          networkMade = true;
          reply(201, { Id: 'net1' });
        }, script.networkMs));
        return;
      }
      if (call === 'POST /containers/create') {
        if (script.createChecksNetwork && !networkMade) { createRefused(); return reply(404, { message: 'network pier-app-x not found' }); }
        return reply(201, { Id: 'c0ffee' });
      }
      if (call === 'POST /containers/c0ffee/start') {
        starts++;
        // runc's start race on a loaded host, as dockerd answers it (seen in CI: the process ran, the start "failed").
        if (script.raceStarts?.includes(starts)) return reply(500, { message: script.raceMessage ?? 'OCI runtime start failed: cannot start an already running container: unknown' });
        return reply(204);
      }
      if (call === 'GET /containers/c0ffee/json') {
        return reply(200, {
          Id: 'c0ffee', Config: { Labels: {}, ExposedPorts: { '8000/tcp': {} } }, HostConfig: { NetworkMode: 'pier-app-x' },
          NetworkSettings: { Ports: {}, Networks: { 'pier-app-x': { IPAddress: '10.1.0.2' } } },
          State: { Status: 'running', Running: true, OOMKilled: false, ExitCode: 0, Error: '', StartedAt: '', FinishedAt: '' },
        });
      }
      if (call === 'DELETE /containers/c0ffee') return reply(204);
      reply(404, { message: `unexpected ${call}` });
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  const runtime = new DockerRuntime({ socketPath, firewall: false, diskDir: join(dir, 'disks'), log: () => {} });
  return { runtime, log, async close() { await new Promise((r) => server.close(r)); rmSync(dir, { recursive: true, force: true }); } };
}

const spec: InstanceSpec = {
  instanceId: 'i-1', labels: {}, image: 'pier-test/busybox:1', env: {}, ports: [8000], cpu: 0.1, memoryBytes: 64 * 1024 * 1024,
  network: 'pier-app-x',
} as InstanceSpec;

test('an app\'s first instance is created while its network is made, and started only once the network is ready', async () => {
  const e = await fakeEngine({ networkMs: 150 });
  try {
    const h = await e.runtime.start(spec);
    assert.deepEqual(h.endpoints, [{ containerPort: 8000, host: '10.1.0.2', hostPort: 8000 }]);
    const at = (call: string) => e.log.indexOf(call);
    assert.ok(at('POST /containers/create') >= 0 && at('POST /containers/create') < at('network made'), e.log.join('\n'));
    assert.ok(at('network made') < at('POST /containers/c0ffee/start'), e.log.join('\n'));
    // The next instance of the app finds the network ready: no network call at all.
    e.log.length = 0;
    await e.runtime.start(spec);
    assert.deepEqual(e.log.filter((c) => c.includes('network')), []);
  } finally {
    await e.close();
  }
});

test('a network that cannot be made fails the start and removes the container created meanwhile', async () => {
  const e = await fakeEngine({ networkMs: 50, networkFails: true });
  try {
    await assert.rejects(e.runtime.start(spec), /could not create the bridge/);
    assert.ok(!e.log.includes('POST /containers/create') || e.log.includes('DELETE /containers/c0ffee'), e.log.join('\n'));
    assert.ok(!e.log.includes('POST /containers/c0ffee/start'), e.log.join('\n'));
  } finally {
    await e.close();
  }
});

test('an engine that looks the network up at create gets the create again once the network exists', async () => {
  const e = await fakeEngine({ networkMs: 50, createChecksNetwork: true });
  try {
    await e.runtime.start(spec);
    assert.equal(e.log.filter((c) => c === 'POST /containers/create').length, 2, e.log.join('\n'));
    assert.ok(e.log.lastIndexOf('POST /containers/create') > e.log.indexOf('network made'), e.log.join('\n'));
  } finally {
    await e.close();
  }
});

test('Docker and gVisor say their start makes the network, so the controller does not wait for it first', () => {
  // The controller skips its ensureNetwork on this flag (reconcile-instances.ts): the start path above must hold it.
  assert.equal(new DockerRuntime({ firewall: false, log: () => {} }).startEnsuresNetwork, true);
  assert.equal(new GvisorRuntime({ firewall: false, log: () => {} }).startEnsuresNetwork, true);
});

test('two first instances of one app starting at once (two regions) make its network once', async () => {
  const e = await fakeEngine({ networkMs: 100 });
  try {
    await Promise.all([e.runtime.start(spec), e.runtime.start({ ...spec, instanceId: 'i-2' })]);
    assert.equal(e.log.filter((c) => c === 'POST /networks/create').length, 1, e.log.join('\n'));
    assert.equal(e.log.filter((c) => c === 'POST /containers/c0ffee/start').length, 2, e.log.join('\n'));
    assert.ok(e.log.lastIndexOf('POST /containers/c0ffee/start') > e.log.indexOf('network made'), e.log.join('\n'));
    assert.ok(e.log.indexOf('POST /containers/c0ffee/start') > e.log.indexOf('network made'), e.log.join('\n'));
  } finally {
    await e.close();
  }
});

test('a start that runc loses in a race (the engine answers an OCI start error) is made again once, from a fresh container', async () => {
  const e = await fakeEngine({ networkMs: 10, raceStarts: [1] });
  try {
    const h = await e.runtime.start(spec);
    assert.equal(h.runtimeId, 'c0ffee');
    const calls = e.log.filter((c) => /^(POST \/containers\/(create|c0ffee\/start)|DELETE \/containers\/c0ffee)$/.test(c));
    // The lost container is removed before the second create (its name is the instance's), then started once more.
    assert.deepEqual(calls, ['POST /containers/create', 'POST /containers/c0ffee/start', 'DELETE /containers/c0ffee', 'POST /containers/create', 'POST /containers/c0ffee/start'], e.log.join('\n'));
  } finally {
    await e.close();
  }
});

test('containerd\'s "cannot start a stopped process" (the init died between create and start) is the same race: made again once', async () => {
  // Seen in CI under load on a start into a network holder's namespace: dockerd answers containerd's own words.
  const e = await fakeEngine({ networkMs: 10, raceStarts: [1], raceMessage: 'cannot start a stopped process: unknown' });
  try {
    const h = await e.runtime.start(spec);
    assert.equal(h.runtimeId, 'c0ffee');
    const starts = e.log.filter((c) => c === 'POST /containers/c0ffee/start');
    assert.equal(starts.length, 2, e.log.join('\n'));
  } finally {
    await e.close();
  }
  // Any other start failure is not retried.
  const other = await fakeEngine({ networkMs: 10, raceStarts: [1], raceMessage: 'driver failed programming external connectivity' });
  try {
    await assert.rejects(other.runtime.start(spec), /driver failed programming/);
    assert.equal(other.log.filter((c) => c === 'POST /containers/c0ffee/start').length, 1, other.log.join('\n'));
  } finally {
    await other.close();
  }
});

test('a start the race loses twice fails with the engine\'s message and leaves no container', async () => {
  const e = await fakeEngine({ networkMs: 10, raceStarts: [1, 2, 3, 4, 5] });
  try {
    await assert.rejects(e.runtime.start(spec), /cannot start an already running container/);
    assert.equal(e.log.filter((c) => c === 'POST /containers/c0ffee/start').length, 2, e.log.join('\n'));
    assert.equal(e.log.filter((c) => c === 'DELETE /containers/c0ffee').length, 2, e.log.join('\n'));
    assert.equal(e.log.at(-1), 'DELETE /containers/c0ffee', e.log.join('\n'));
  } finally {
    await e.close();
  }
});

test('a spare network holder whose start runc loses in the race is made once more, so the service still gets its spare', async () => {
  const e = await fakeEngine({ networkMs: 10, raceStarts: [2] }); // start 1: the instance; start 2: its spare's first try
  try {
    await e.runtime.start({ ...spec, scalesOut: true });
    const starts = () => e.log.filter((c) => c === 'POST /containers/c0ffee/start').length;
    for (let i = 0; i < 250 && !(starts() === 3 && e.log.at(-1) === 'GET /containers/c0ffee/json'); i++) await new Promise((r) => setTimeout(r, 20));
    const calls = e.log.filter((c) => /^(POST \/containers\/(create|c0ffee\/start)|DELETE \/containers\/c0ffee|GET \/containers\/c0ffee\/json)$/.test(c));
    // The instance (create, start, inspect), then the spare: create, start lost, removed, created and started again.
    assert.deepEqual(calls.slice(3), ['POST /containers/create', 'POST /containers/c0ffee/start', 'DELETE /containers/c0ffee', 'POST /containers/create', 'POST /containers/c0ffee/start', 'GET /containers/c0ffee/json'], e.log.join('\n'));
  } finally {
    await e.close();
  }
});
