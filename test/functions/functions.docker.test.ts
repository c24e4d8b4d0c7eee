// Functions through a real Pier on the Docker runtime: a TypeScript and a Python handler deployed from a directory
// (archive) are built into images on Pier's local node/python base images, called through the edge; a throw in
// user code gives a 500 with the request id and the next request is served; one function sleeps and wakes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFunctionPier } from './platform.ts';
import { writeDir } from './support.ts';
import { until } from '../support/until.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';

const TS_HANDLER = `import { shout } from './lib.ts';
export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/boom') throw new Error('ts handler exploded');
    return new Response(shout('ts in docker') + ' ' + path);
  },
};
`;
const TS_LIB = 'export function shout(s: string): string { return s.toUpperCase(); }\n';
const PY_HANDLER = `def handler(request):
    if request.path == "/boom":
        raise RuntimeError("py handler exploded")
    return {"lang": "python", "path": request.path}
`;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('functions on the docker runtime: TypeScript and Python from an archive, user errors, sleep and wake', { timeout: 240_000 }, async () => {
  const p = await startFunctionPier('docker');
  const images: string[] = [];
  try {
    const info = (await p.api<{ runtime: string }>('GET', '/v1/pier/info')).body;
    assert.equal(info.runtime, 'docker');
    const [tsApp, pyApp] = await Promise.all(['fnd-ts', 'fnd-py'].map((n) => p.createApp(n)));
    const sleepSeconds = 3;
    const ts = await p.createFunction(tsApp, {
      name: 'ts', source: { archive: { id: await p.upload(writeDir({ 'handler.ts': TS_HANDLER, 'lib.ts': TS_LIB })), buildpack: {} } }, sleepSeconds,
    });
    const py = await p.createFunction(pyApp, {
      name: 'py', source: { archive: { id: await p.upload(writeDir({ 'handler.py': PY_HANDLER })), buildpack: {} } }, sleepSeconds,
    });
    const ready = await Promise.all([ts, py].map((s) => p.waitDeployment(s.latest_deployment_id, ['HEALTHY', 'SLEEPING'], 150_000)));
    for (const d of ready) {
      const image = String(d.provisioning_info?.image ?? '');
      assert.match(image, /^pier-build\//, `built into an image, got ${JSON.stringify(d.provisioning_info)}`);
      images.push(image);
    }

    // The edge's table follows the controller pass that made the deployment HEALTHY: wait (bounded) for a 200.
    const ok = async (app: string, path = '/') => {
      let r = { status: 0, body: '' };
      await until(`${app}${path} served`, async () => (r = await p.get(p.hostOf(app), path)).status === 200, 5_000, 25).catch(() => undefined);
      assert.equal(r.status, 200, `${app}${path}: ${r.status} ${r.body}`);
      return r.body;
    };
    assert.equal(await ok('fnd-ts', '/a'), 'TS IN DOCKER /a');
    assert.deepEqual(JSON.parse(await ok('fnd-py', '/x')), { lang: 'python', path: '/x' });

    // A throw in user code: 500 carrying the edge's request id; the same instance serves the next request.
    let tsBoomId = '';
    for (const app of ['fnd-ts', 'fnd-py']) {
      const boom = await p.get(p.hostOf(app), '/boom');
      assert.equal(boom.status, 500, `${app}: ${boom.body}`);
      const requestId = String(boom.headers['x-request-id'] ?? '');
      assert.ok(requestId, `${app}: no x-request-id header`);
      assert.match(boom.body, new RegExp(`request id ${escape(requestId)}`));
      if (app === 'fnd-ts') tsBoomId = requestId;
    }
    // The stack reaches the service's runtime logs through the container's log stream.
    const logged = await until('the stack in the logs', async () => {
      const r = await p.api('GET', `/v1/streams/logs/query?type=runtime&service_id=${ts.id}&text=${encodeURIComponent(tsBoomId)}&limit=20`);
      return (r.body.data ?? []).map((l: { msg: string }) => l.msg).find((m: string) => m.includes('handler threw'));
    }, 30_000, 250);
    assert.match(JSON.parse(logged).stack, /ts handler exploded\n\s+at /);
    assert.equal(await ok('fnd-ts', '/after'), 'TS IN DOCKER /after');
    assert.deepEqual(JSON.parse(await ok('fnd-py', '/after')), { lang: 'python', path: '/after' });

    // Sleep: idle past the delay, the deployment goes SLEEPING; a request wakes it.
    await until('fnd-py asleep', async () => {
      const s = (await p.api('GET', `/v1/services/${py.id}`)).body.service;
      const d = (await p.api('GET', `/v1/deployments/${s.active_deployment_id}`)).body.deployment;
      return d.status === 'SLEEPING';
    }, 60_000, 250);
    // Its container is stopped (nothing runs while it sleeps, memory freed) and kept: Docker's deep sleep keeps a
    // stopped container and the wake starts that same container again (issue #23; test/autoscale/scenario.ts).
    const engine = new DockerEngine();
    const sleeper = await until('fnd-py instance SLEEPING', async () => {
      const rows = (await p.api('GET', `/v1/instances?service_id=${py.id}&limit=100&statuses=SLEEPING`)).body.instances ?? [];
      return rows[0] as { id: string; allocation_id: string } | undefined;
    }, 30_000, 250);
    const inspectSleeper = () => engine.jsonOrNull<{ State: { Running: boolean } }>('GET', `/containers/${sleeper.allocation_id}/json`);
    await until('the sleeping container stopped', async () => (await inspectSleeper())?.State.Running === false, 30_000, 250);
    const woke = await p.get(p.hostOf('fnd-py'), '/woke');
    assert.equal(woke.status, 200, woke.body);
    assert.deepEqual(JSON.parse(woke.body), { lang: 'python', path: '/woke' });
    const awake = (await p.api('GET', `/v1/instances?service_id=${py.id}&limit=100&statuses=HEALTHY&statuses=STARTING`)).body.instances ?? [];
    assert.equal(awake.length, 1, JSON.stringify(awake));
    assert.equal(awake[0].id, sleeper.id, 'the wake-up started the kept instance again');
    const container = await engine.jsonOrNull<{ State: { Running: boolean } }>('GET', `/containers/${awake[0].allocation_id}/json`);
    assert.equal(container?.State.Running, true, 'the woken instance runs in its container');
  } finally {
    await p.close();
    // The images this test built (Pier keeps built images for rollbacks; the base images stay for other suites).
    const engine = new DockerEngine();
    for (const image of images) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(image)}`, { query: { force: 1 } }).catch(() => {});
  }
});
