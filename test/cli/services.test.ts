import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APP_ID, DEP2_ID, DEP_ID, SVC_ID, app, deployment, lookupRoutes, run, service, startFakeApi,
} from './harness.ts';

test('apps create sends the name, authenticates, and prints a table row with the app\'s URL', async () => {
  const api = await startFakeApi({ 'POST /v1/apps': { body: { app: app() } }, 'GET /v1/pier/info': { body: { edge_url: 'http://127.0.0.1:8000' } } });
  try {
    const r = await run(api, ['apps', 'create', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.lines(), ['POST /v1/apps', 'GET /v1/pier/info']);
    assert.deepEqual(api.requests[0]!.body, { name: 'shop' });
    assert.equal(api.requests[0]!.authorization, 'Bearer tok-123');
    assert.equal(r.stdout, 'ID         NAME   STATUS    URL                          CREATED\n11111111   shop   HEALTHY   http://shop.localhost:8000   10m ago\n');
  } finally {
    await api.close();
  }
});

test('apps list -o json prints the raw API objects; --full shows whole ids', async () => {
  const api = await startFakeApi(lookupRoutes());
  try {
    const json = await run(api, ['a', 'list', '-o', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), { apps: [app()], count: 1 });
    assert.deepEqual(api.lines(), ['GET /v1/apps?limit=100&offset=0']);
    const yaml = await run(api, ['apps', 'list', '-o', 'yaml']);
    assert.match(yaml.stdout, /^apps:\n {2}- id: 11111111-aaaa-4aaa-8aaa-000000000001\n/);
    const full = await run(api, ['apps', 'list', '--full']);
    assert.match(full.stdout, new RegExp(`^${APP_ID}   shop`, 'm'));
  } finally {
    await api.close();
  }
});

test('services create resolves the app, sends the whole definition with defaults, prints the service', async () => {
  const api = await startFakeApi({ ...lookupRoutes(), 'POST /v1/services': { body: { service: service({ status: 'STARTING' }) } } });
  try {
    const r = await run(api, ['services', 'create', 'web', '--app', 'shop', '--docker', 'nginx', '--port', '80', '--env', 'A=1', '--env', 'DB=@db-url']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.lines(), ['GET /v1/apps?limit=100&offset=0', 'POST /v1/services', `GET /v1/apps/${APP_ID}`]);
    assert.deepEqual(api.requests[1]!.body, {
      app_id: APP_ID,
      name: 'web',
      definition: {
        name: 'web', type: 'WEB', regions: ['was'], docker: { image: 'nginx' },
        env: [{ key: 'A', value: '1', scopes: ['region:was'] }, { key: 'DB', secret: 'db-url', scopes: ['region:was'] }],
        ports: [{ port: 80, protocol: 'http' }], routes: [{ path: '/', port: 80 }], health_checks: [],
        instance_types: [{ type: 'nano', scopes: ['region:was'] }], scalings: [{ min: 1, max: 1, targets: [], scopes: ['region:was'] }],
      },
    });
    assert.match(r.stdout, /^ID {9}APP {4}NAME {3}TYPE {3}STATUS {5}CREATED\n22222222 {3}shop {3}web {4}WEB {4}STARTING {3}10m ago\n$/);
  } finally {
    await api.close();
  }
});

test('services create without --app is a usage error; a bad definition fails before any request', async () => {
  const api = await startFakeApi(lookupRoutes());
  try {
    const noApp = await run(api, ['services', 'create', 'web', '--docker', 'nginx']);
    assert.equal(noApp.code, 2);
    assert.match(noApp.stderr, /^error: --app APP is required\n/);
    const bad = await run(api, ['services', 'create', 'web', '--app', 'shop', '--docker', 'nginx', '--ports', '80', '--ports', '81']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'error: the service has 2 HTTP ports (80, 81) but no routes; add one --routes PATH:PORT per public port\n');
    assert.deepEqual(api.requests, [], 'nothing is sent, not even the app lookup');
  } finally {
    await api.close();
  }
});

test('API errors print one line plus field lines and exit 1', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    'POST /v1/services': {
      status: 400,
      body: { status: 400, code: 'invalid_argument', message: 'Validation failed', fields: [{ field: 'definition.docker.image', description: 'cannot be blank' }] },
    },
  });
  try {
    const r = await run(api, ['services', 'create', 'web', '--app', 'shop', '--docker', 'x']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: Validation failed\n  definition.docker.image: cannot be blank\n');
  } finally {
    await api.close();
  }
});

test('services update reads the latest definition, applies flags and PUTs the whole definition back', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/deployments': { body: { deployments: [deployment()], limit: 1, offset: 0, count: 1 } },
    [`PUT /v1/services/${SVC_ID}`]: { body: { service: service({ latest_deployment_id: DEP2_ID }) } },
  });
  try {
    const r = await run(api, ['services', 'update', 'shop/web', '--env', 'B=2', '--env', '!A', '--scale', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.lines(), [
      'GET /v1/apps?limit=100&offset=0',
      `GET /v1/services?app_id=${APP_ID}&limit=100&offset=0`,
      `GET /v1/deployments?service_id=${SVC_ID}&limit=1`,
      `PUT /v1/services/${SVC_ID}`,
      `GET /v1/apps/${APP_ID}`,
    ]);
    const expected = structuredClone((deployment() as { definition: Record<string, unknown> }).definition);
    expected.env = [{ key: 'B', value: '2', scopes: ['region:was'] }];
    expected.scalings = [{ min: 2, max: 2, targets: [], scopes: ['region:was'] }];
    assert.deepEqual(api.requests[3]!.body, { definition: expected });
  } finally {
    await api.close();
  }
});

test('services update --save-only --skip-build, and --override starting from an empty definition', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/deployments': { body: { deployments: [deployment()], count: 1 } },
    [`PUT /v1/services/${SVC_ID}`]: { body: { service: service() } },
  });
  try {
    const saved = await run(api, ['services', 'update', SVC_ID, '--docker', 'nginx:2', '--save-only', '--skip-build', '--wait']);
    assert.equal(saved.code, 0, saved.stderr);
    const body = api.requests.find((r) => r.method === 'PUT')!.body as Record<string, unknown>;
    assert.equal(body.save_only, true);
    assert.equal(body.skip_build, true);
    assert.match(saved.stderr, /saved without deploying/);
    assert.equal(api.lines()[0], `GET /v1/deployments?service_id=${SVC_ID}&limit=1`, 'a UUID needs no lookup');
    assert.equal(api.lines().filter((l) => l.startsWith(`GET /v1/services/`)).length, 0, '--save-only does not wait');

    api.requests.length = 0;
    const over = await run(api, ['services', 'update', SVC_ID, '--override', '--docker', 'redis', '--type', 'worker']);
    assert.equal(over.code, 0, over.stderr);
    assert.deepEqual((api.requests.find((r) => r.method === 'PUT')!.body as { definition: unknown }).definition, {
      name: 'web', type: 'WORKER', docker: { image: 'redis' }, env: [], ports: [], routes: [], health_checks: [], regions: ['was'],
      instance_types: [{ type: 'nano', scopes: ['region:was'] }], scalings: [{ min: 1, max: 1, targets: [], scopes: ['region:was'] }],
    });
  } finally {
    await api.close();
  }
});

test('service references: 8-char short id, ambiguous name, unknown name', async () => {
  const other = service({ id: '99999999-bbbb-4bbb-8bbb-000000000009', app_id: 'other-app' });
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/services': { body: { services: [service(), other], count: 2 } },
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
  });
  try {
    const short = await run(api, ['svc', 'get', '22222222']);
    assert.equal(short.code, 0, short.stderr);
    assert.deepEqual(api.lines(), ['GET /v1/services?limit=100&offset=0', `GET /v1/services/${SVC_ID}`, `GET /v1/apps/${APP_ID}`]);
    const ambiguous = await run(api, ['svc', 'get', 'web']);
    assert.equal(ambiguous.code, 1);
    assert.equal(ambiguous.stderr, 'error: "web" names services in several apps; use <app>/<service> or --app APP\n');
    const missing = await run(api, ['svc', 'get', 'nope', '--app', 'shop']);
    assert.equal(missing.stderr, 'error: service not found: nope\n');
  } finally {
    await api.close();
  }
});

test('services redeploy --deployment resolves a short id and asks for a rollback', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/deployments': { body: { deployments: [deployment({ id: DEP2_ID }), deployment()], count: 2 } },
    [`POST /v1/services/${SVC_ID}/redeploy`]: { body: { deployment: deployment({ id: DEP2_ID, version: '3', status: 'PENDING' }) } },
  });
  try {
    const r = await run(api, ['service', 'redeploy', 'shop/web', '--deployment', DEP_ID.slice(0, 8), '--skip-build']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.requests.at(-1)!.body, { skip_build: true, use_cache: false, deployment_id: DEP_ID });
    assert.match(r.stdout, /^44444444 {3}web {7}3 {9}PENDING/m);
  } finally {
    await api.close();
  }
});

test('services scale, scale get, scale delete', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`PUT /v1/services/${SVC_ID}/scale`]: (req) => ({ body: req.body }),
    [`GET /v1/services/${SVC_ID}/scale`]: { body: { scalings: [{ scopes: ['region:fra'], instances: 3 }] } },
    [`DELETE /v1/services/${SVC_ID}/scale`]: { body: {} },
  });
  try {
    const set = await run(api, ['services', 'scale', 'shop/web', '--scale', 'fra:3', '--scale', 'was:2', '--instances', '1']);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(api.requests.at(-1)!.body, {
      scalings: [{ scopes: [], instances: 1 }, { scopes: ['region:fra'], instances: 3 }, { scopes: ['region:was'], instances: 2 }],
    });
    assert.match(set.stdout, /all regions {3}1\nfra {11}3\nwas {11}2/);
    const get = await run(api, ['services', 'scale', 'get', 'shop/web']);
    assert.equal(get.stdout, 'REGIONS   INSTANCES\nfra       3\n');
    const del = await run(api, ['services', 'scale', 'delete', 'shop/web']);
    assert.equal(del.code, 0);
    assert.equal(api.requests.at(-1)!.method, 'DELETE');
    const bad = await run(api, ['services', 'scale', 'shop/web', '--scale', 'fra=3']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected REGION:INSTANCES/);
  } finally {
    await api.close();
  }
});

test('pause, resume, delete post to the lifecycle endpoints', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`POST /v1/services/${SVC_ID}/pause`]: { body: {} },
    [`POST /v1/services/${SVC_ID}/resume`]: { body: {} },
    [`DELETE /v1/services/${SVC_ID}`]: { body: {} },
    [`POST /v1/apps/${APP_ID}/pause`]: { body: {} },
  });
  try {
    assert.equal((await run(api, ['svc', 'pause', 'web', '-a', 'shop'])).stdout, 'Service web is pausing.\n');
    await run(api, ['svc', 'resume', SVC_ID, '--skip-build']);
    assert.deepEqual(api.lines().at(-1), `POST /v1/services/${SVC_ID}/resume?skip_build=true`);
    await run(api, ['svc', 'delete', SVC_ID]);
    assert.deepEqual(api.lines().at(-1), `DELETE /v1/services/${SVC_ID}`);
    await run(api, ['app', 'pause', 'shop']);
    assert.deepEqual(api.lines().at(-1), `POST /v1/apps/${APP_ID}/pause`);
  } finally {
    await api.close();
  }
});

test('unapplied-changes diffs the stashed deployment against the active one', async () => {
  const api = await startFakeApi({
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service({ latest_deployment_id: DEP2_ID }) } },
    [`GET /v1/deployments/${DEP2_ID}`]: { body: { deployment: deployment({ id: DEP2_ID, status: 'STASHED', parent_id: DEP_ID }) } },
    [`GET /v1/deployments/${DEP2_ID}/diff`]: { body: { changes: [{}], lines: ['~ docker.image: "nginx" -> "nginx:2"'] } },
  });
  try {
    const r = await run(api, ['svc', 'unapplied-changes', SVC_ID]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.lines().at(-1), `GET /v1/deployments/${DEP2_ID}/diff?against=${DEP_ID}`);
    assert.match(r.stdout, /~ docker\.image: "nginx" -> "nginx:2"/);
  } finally {
    await api.close();
  }
});

test('usage errors exit 2: unknown flag with suggestion, unknown command, wrong argument count; --help exits 0', async () => {
  const typo = await run(undefined, ['services', 'create', 'web', '--app', 'a', '--prot', '80']);
  assert.equal(typo.code, 2);
  assert.equal(typo.stderr, "error: unknown flag --prot; did you mean --port?\nRun 'pier services create --help' for usage.\n");
  const cmd = await run(undefined, ['servces']);
  assert.equal(cmd.code, 2);
  assert.match(cmd.stderr, /unknown command "servces" for "pier"; did you mean "services"\?/);
  const count = await run(undefined, ['apps', 'get']);
  assert.equal(count.code, 2);
  assert.match(count.stderr, /takes 1 argument\(s\) \(NAME\), got 0/);
  const help = await run(undefined, ['svc', 'update', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: pier services update NAME \[flags\]/);
  assert.match(help.stdout, /--ports PORT\[:PROTOCOL\] +Exposed port .*repeatable; alias --port/);
  assert.match(help.stdout, /--override/);
  const out = await run(undefined, ['apps', 'list', '-o', 'xml']);
  assert.equal(out.code, 2);
});

test('services describe shows the service, its latest definition, deployments and instances; apps describe its services', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
    'GET /v1/deployments': { body: { deployments: [deployment()], count: 1 } },
    'GET /v1/instances': { body: { instances: [], count: 0 } },
  });
  try {
    const r = await run(api, ['svc', 'describe', 'shop/web']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.lines().slice(-5), [
      `GET /v1/services/${SVC_ID}`, `GET /v1/apps/${APP_ID}`, `GET /v1/deployments?service_id=${SVC_ID}&limit=10`,
      `GET /v1/instances?service_id=${SVC_ID}&limit=100&offset=0`, 'GET /v1/pier/info',
    ]);
    assert.match(r.stdout, /\nURL: +http:\/\/shop\.localhost:8000\/\n/, 'the public URL of each route');
    assert.doesNotMatch(r.stdout, /TCP proxy/, 'no TCP proxy line without proxy ports');
    assert.match(r.stdout, /^ID: +22222222-bbbb-4bbb-8bbb-000000000002\nName: +web\nApp: +shop \(11111111\)\n/);
    assert.match(r.stdout, /\nDefinition \(deployment 33333333\):\n {2}name: web\n {2}type: WEB\n/);
    assert.match(r.stdout, /\nDeployments:\nID .*\n33333333 /);
    assert.match(r.stdout, /\nInstances:\nID +SERVICE +STATUS/);
    const json = await run(api, ['svc', 'describe', SVC_ID, '-o', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), { service: service() });
    const a = await run(api, ['app', 'describe', 'shop']);
    assert.match(a.stdout, /Domains: +shop\.localhost\nURL: +http:\/\/shop\.localhost:8000\n/);
    assert.match(a.stdout, /\nServices:\nID .*\n22222222 {3}shop {3}web/);
  } finally {
    await api.close();
  }
});

test('services describe says where its TCP proxy ports answer', async () => {
  const proxy = [{ host: 'shop-pier.localhost', public_port: 20000, port: 5432, protocol: 'tcp' }, { host: 'shop-pier.localhost', public_port: 20001, port: 6379, protocol: 'tcp' }];
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
    'GET /v1/deployments': { body: { deployments: [deployment({ metadata: { proxy_ports: proxy } })], count: 1 } },
    'GET /v1/instances': { body: { instances: [], count: 0 } },
  });
  try {
    const r = await run(api, ['svc', 'describe', 'shop/web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nTCP proxy: +shop-pier\.localhost:20000 -> 5432, shop-pier\.localhost:20001 -> 6379\n/);
  } finally {
    await api.close();
  }
});

test('apps init with a bad definition creates nothing', async () => {
  const api = await startFakeApi({ 'POST /v1/apps': { body: { app: app() } } });
  try {
    const r = await run(api, ['apps', 'init', 'hello', '--docker', 'nginx', '--type', 'worker', '--ports', '80']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: a worker service cannot expose ports/);
    assert.deepEqual(api.requests, []);
  } finally {
    await api.close();
  }
});

test('services events shows the service events newest first, filtered by type; a bad --limit is a usage error', async () => {
  const when = new Date(Date.now() - 5_000).toISOString();
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/service_events': { body: { events: [{ id: 'e1', when, organization_id: 'o', type: 'autoscaled', message: '1 -> 3: 120 concurrent requests over target 50', metadata: {} }] } },
  });
  try {
    const r = await run(api, ['services', 'events', 'shop/web', '--type', 'autoscaled']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(api.lines().includes(`GET /v1/service_events?service_id=${SVC_ID}&limit=20&order=desc&types=autoscaled`), api.lines().join('\n'));
    assert.match(r.stdout, /^WHEN +TYPE +MESSAGE\n5s ago +autoscaled +1 -> 3: 120 concurrent requests over target 50\n$/);
    const bad = await run(api, ['services', 'events', 'shop/web', '--limit', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit must be a whole number from 1 to 100/);
  } finally {
    await api.close();
  }
});
