import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_ID, DEP2_ID, DEP_ID, NOW, SVC_ID, deployment, lookupRoutes, run, service, startFakeApi, type Routes } from './harness.ts';

/** Routes where the new deployment DEP2 walks through `statuses`, one per poll, then stays at the last one. */
function rollout(statuses: string[], messages: string[] = []): Routes {
  let polls = 0;
  return {
    ...lookupRoutes(),
    'POST /v1/services': { body: { service: service({ status: 'STARTING', latest_deployment_id: '', active_deployment_id: '' }) } },
    [`GET /v1/services/${SVC_ID}`]: () => ({ body: { service: service({ status: 'STARTING', latest_deployment_id: DEP2_ID }) } }),
    [`GET /v1/deployments/${DEP2_ID}`]: () => {
      const status = statuses[Math.min(polls++, statuses.length - 1)];
      return { body: { deployment: deployment({ id: DEP2_ID, status, messages }) } };
    },
  };
}

const CREATE = ['services', 'create', 'web', '--app', 'shop', '--docker', 'nginx', '--wait', '--wait-timeout', '30s'];

/** A clock that moves 1 s per reading, so a wait that never ends in a regression still hits its timeout. */
function ticking(): () => number {
  let t = NOW;
  return () => (t += 1000);
}

test('--wait polls until the new deployment is HEALTHY and shows each status change once', async () => {
  const api = await startFakeApi(rollout(['PROVISIONING', 'PROVISIONING', 'STARTING', 'HEALTHY']));
  try {
    const r = await run(api, CREATE, { now: ticking() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'deployment 44444444: PROVISIONING\ndeployment 44444444: STARTING\ndeployment 44444444: HEALTHY\n');
    assert.equal(api.lines().filter((l) => l === `GET /v1/deployments/${DEP2_ID}`).length, 4);
  } finally {
    await api.close();
  }
});

test('--wait fails on UNHEALTHY and DEGRADED, printing the deployment messages', async () => {
  for (const bad of ['UNHEALTHY', 'DEGRADED']) {
    const api = await startFakeApi(rollout(['STARTING', bad], ['HTTP health check failed on port 80.']));
    try {
      const r = await run(api, CREATE, { now: ticking() });
      assert.equal(r.code, 1, bad);
      assert.match(r.stderr, new RegExp(`error: deployment 44444444 is ${bad}\n  HTTP health check failed on port 80.\n$`));
    } finally {
      await api.close();
    }
  }
});

test('--wait fails when the service is deleted', async () => {
  const api = await startFakeApi({ ...rollout(['STARTING']), [`GET /v1/services/${SVC_ID}`]: { body: { service: service({ status: 'DELETED' }) } } });
  try {
    const r = await run(api, CREATE, { now: ticking() });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: service web was deleted while waiting\n');
  } finally {
    await api.close();
  }
});

test('--wait-timeout ends the wait with an error; a bad timeout is a usage error before anything is sent', async () => {
  const api = await startFakeApi(rollout(['PROVISIONING']));
  try {
    const r = await run(api, [...CREATE, '--wait-timeout', '10s'], { now: ticking() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: timed out after 10s waiting for the deployment to be healthy \(last status: PROVISIONING\)\n$/);
    api.requests.length = 0;
    const bad = await run(api, [...CREATE, '--wait-timeout', 'soon']);
    assert.equal(bad.code, 2);
    assert.deepEqual(api.requests, []);
  } finally {
    await api.close();
  }
});

test('Ctrl-C stops waiting cleanly with exit 130 and unregisters its handler', async () => {
  const api = await startFakeApi(rollout(['PROVISIONING']));
  try {
    let fire: () => void = () => {};
    const pending = run(api, CREATE, { interrupt: (f) => (fire = f), now: ticking() });
    // Interrupt once the first status is shown, i.e. while the wait loop is sleeping between polls.
    for (let i = 0; i < 200 && !api.lines().includes(`GET /v1/deployments/${DEP2_ID}`); i++) await new Promise((r) => setTimeout(r, 5));
    fire();
    const r = await pending;
    assert.equal(r.code, 130);
    assert.match(r.stderr, /stopped waiting; the deployment continues \(pier deployments get 44444444\)\n$/);
  } finally {
    await api.close();
  }
});

test('update --wait ignores the previous deployment until the new one appears', async () => {
  let polls = 0;
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/deployments': { body: { deployments: [deployment()], count: 1 } },
    // The PUT reply still names the old deployment; the next service read names the new one.
    [`PUT /v1/services/${SVC_ID}`]: { body: { service: service() } },
    [`GET /v1/services/${SVC_ID}`]: () => ({ body: { service: service({ latest_deployment_id: polls++ === 0 ? DEP_ID : DEP2_ID }) } }),
    [`GET /v1/deployments/${DEP2_ID}`]: { body: { deployment: deployment({ id: DEP2_ID, status: 'HEALTHY' }) } },
    [`GET /v1/deployments/${DEP_ID}`]: { body: { deployment: deployment({ status: 'HEALTHY' }) } },
  });
  try {
    const r = await run(api, ['services', 'update', 'shop/web', '--env', 'X=1', '--wait'], { now: ticking() });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!api.lines().includes(`GET /v1/deployments/${DEP_ID}`), 'never polls the old deployment');
    assert.equal(r.stderr, 'deployment 44444444: HEALTHY\n');
    assert.ok(api.lines().includes(`GET /v1/apps/${APP_ID}`));
  } finally {
    await api.close();
  }
});

test('redeploy --wait waits for the deployment the redeploy returned', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`POST /v1/services/${SVC_ID}/redeploy`]: { body: { deployment: deployment({ id: DEP2_ID, status: 'PENDING' }) } },
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
    [`GET /v1/deployments/${DEP2_ID}`]: { body: { deployment: deployment({ id: DEP2_ID, status: 'HEALTHY' }) } },
  });
  try {
    const r = await run(api, ['services', 'redeploy', SVC_ID, '--wait'], { now: ticking() });
    assert.equal(r.code, 0, r.stderr);
    const redeploy = api.lines().indexOf(`POST /v1/services/${SVC_ID}/redeploy`);
    assert.deepEqual(api.lines().slice(redeploy + 1, redeploy + 3), [`GET /v1/services/${SVC_ID}`, `GET /v1/deployments/${DEP2_ID}`]);
  } finally {
    await api.close();
  }
});

test('apps init creates the app, then a service of the same name in it', async () => {
  const api = await startFakeApi({ ...rollout(['HEALTHY']), 'POST /v1/apps': { body: { app: { id: APP_ID, name: 'hello' } } } });
  try {
    const r = await run(api, ['apps', 'init', 'hello', '--docker', 'nginx', '--ports', '80', '--wait'], { now: ticking() });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.lines().slice(0, 2), ['POST /v1/apps', 'POST /v1/services']);
    const body = api.requests[1]!.body as { app_id: string; name: string; definition: { name: string } };
    assert.deepEqual([body.app_id, body.name, body.definition.name], [APP_ID, 'hello', 'hello']);
  } finally {
    await api.close();
  }
});

test('--wait prints the service as the wait left it (not as it was before) and its URL', async () => {
  let healthy = false;
  const api = await startFakeApi({
    ...rollout(['PROVISIONING', 'HEALTHY']),
    [`GET /v1/services/${SVC_ID}`]: () => ({ body: { service: service({ status: healthy ? 'HEALTHY' : 'STARTING', latest_deployment_id: DEP2_ID }) } }),
    'GET /v1/pier/info': { body: { edge_url: 'http://127.0.0.1:8000' } },
  });
  const deploymentRoute = api.routes[`GET /v1/deployments/${DEP2_ID}`] as (r: never) => { body: { deployment: { status: string } } };
  api.routes[`GET /v1/deployments/${DEP2_ID}`] = (r) => {
    const reply = deploymentRoute(r as never);
    healthy = reply.body.deployment.status === 'HEALTHY';
    return reply;
  };
  try {
    const r = await run(api, CREATE, { now: ticking() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID .*STATUS.*\n22222222 {3}shop {3}web {4}WEB {4}HEALTHY {3}10m ago\nURL: http:\/\/shop\.localhost:8000\/\n$/);
    assert.doesNotMatch(r.stdout, /STARTING/, 'the status from before the wait is not printed');
  } finally {
    await api.close();
  }
});

test('--wait streams the build lines; on a terminal a live status line shows status, elapsed time and step', async () => {
  for (const tty of [false, true]) {
    let shown = '';
    let polls = 0;
    const api = await startFakeApi({
      ...rollout([]),
      // PROVISIONING until the user has seen the build's last line (bounded: ERROR after 5000 polls).
      [`GET /v1/deployments/${DEP2_ID}`]: () => {
        const status = shown.includes('added 12 packages') ? 'HEALTHY' : polls++ > 5000 ? 'ERROR' : 'PROVISIONING';
        return { body: { deployment: deployment({ id: DEP2_ID, status }) } };
      },
    });
    let tailUrl = '';
    api.onTail = (ws, req) => {
      tailUrl = req.url ?? '';
      for (const msg of ['$ npm ci', 'added 12 packages']) {
        ws.send(JSON.stringify({ result: { msg, created_at: '2026-03-01T12:00:01Z', labels: { type: 'build', stream: 'stdout' } } }));
      }
    };
    try {
      const r = await run(api, [...CREATE, '--wait-timeout', '24h'], { now: ticking(), tty, onStderr: (t) => (shown += t) });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(tailUrl, `/v1/streams/logs/tail?type=build&deployment_id=${DEP2_ID}`);
      // What stays on screen: the status line is cleared (\r ESC[2K) before each lasting line and at the end.
      const lasting = r.stderr.replace(/\r\x1b\[2K[^\n\r]*(?=\r|$)/g, '').replace(/\r\x1b\[2K/g, '');
      assert.equal(lasting, 'deployment 44444444: PROVISIONING\nbuild | $ npm ci\nbuild | added 12 packages\ndeployment 44444444: HEALTHY\n');
      if (tty) {
        assert.match(r.stderr, /\r\x1b\[2K. PROVISIONING · \d+[hms]/, 'a status line with the status and elapsed time');
        assert.match(r.stderr, /\r\x1b\[2K. PROVISIONING · \d+[hms]\w* · \$ npm ci/, 'the step comes from the build lines');
        assert.ok(r.stderr.endsWith('\r\x1b[2K'), 'the status line is removed when the wait ends');
      } else {
        assert.doesNotMatch(r.stderr, /\x1b|\r/, 'plain lines only when not on a terminal');
      }
    } finally {
      await api.close();
    }
  }
});
