// The edge conformance suite, run against each data plane (edge.docker.test.ts: the Node edge alone;
// edge-haproxy.docker.test.ts: HAProxy in front of it): a real Pier (docker runtime, test image), its routing table
// through real instances, 404/503 pages, zero failed requests under load while a service is redeployed twice,
// private networking between services, isolation between apps, and region failover. Every wait is bounded;
// assertions are on outcomes, not durations, and are the same for both data planes.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineUp, haproxyDirectRequests, startEdgePier, underLoad, until, webDef, type EdgePier } from './harness.ts';

/** The data planes the suite runs against. */
type Dataplane = 'node' | 'haproxy';

/** Why the suite cannot run on this data plane here, or false. */
function skipReason(dataplane: Dataplane): string | false {
  if (!engineUp) return 'Docker engine not reachable';
  if (dataplane === 'haproxy' && spawnSync('haproxy', ['-v']).status !== 0) return 'haproxy is not installed (apt-get install haproxy)';
  return false;
}

/** Registers the suite for one data plane. */
export function edgeSuite(dataplane: Dataplane): void {
  test(`edge over real docker instances (data plane: ${dataplane})`, { skip: skipReason(dataplane), timeout: 600_000 }, async (t) => {
    const p: EdgePier = await startEdgePier({ dataplane });
    assert.equal(p.dataplane, dataplane, 'the Pier under test serves with the data plane asked for');
    try {
      const image = p.image;
      // App "shop": front at /, api at /api and a private service db (a port, no route).
      const shop = await p.createApp('shop');
      const front = await p.createService(shop, 'front', webDef(image, '/', { env: [{ key: 'GREETING', value: 'front' }] }));
      const apiSvc = await p.createService(shop, 'api', webDef(image, '/api', { env: [{ key: 'GREETING', value: 'api' }] }));
      const db = await p.createService(shop, 'db', webDef(image, null, { env: [{ key: 'GREETING', value: 'private-db' }] }));
      // App "other": a neighbour that must not reach shop's services.
      const other = await p.createApp('other');
      const intruder = await p.createService(other, 'intruder', webDef(image, '/', { env: [{ key: 'GREETING', value: 'intruder' }] }));
      // App "geo": one service in two regions; the greeting names the region that answered.
      const geo = await p.createApp('geo');
      // Two regions start their first instances at once; the docker driver's ensureNetwork races with itself then
      // (two networks of one name, "ambiguous"), so the network is made first. Reported to the runtime owner.
      await p.ensureAppNetwork(geo);
      const geoSvc = await p.createService(geo, 'web', webDef(image, '/', {
        regions: ['was', 'fra'], env: [{ key: 'GREETING', value: 'region-{{ KOYEB_REGION }}' }],
      }));
      // App "load": redeployed under load; the greeting names the deployment.
      const load = await p.createApp('load');
      const loadSvc = await p.createService(load, 'web', webDef(image, '/', { env: [{ key: 'GREETING', value: 'dep-{{ KOYEB_DEPLOYMENT_ID }}' }] }));

      const all = [front, apiSvc, db, intruder, geoSvc, loadSvc];
      await until('every service HEALTHY', async () => {
        const st = await Promise.all(all.map(async (s) => { const x = await p.service(s.id); return `${x.name} ${x.status} ${x.messages?.[0] ?? ''}`; }));
        if (!st.every((x) => / HEALTHY /.test(x))) throw new Error(st.join(' | '));
        return st;
      }, 180_000, 300);

      await t.test('routing: longest prefix wins, the prefix is stripped, each service answers its own route', async () => {
        const host = p.hostOf('shop');
        const root = await until('front routed', async () => { const r = await p.get(host, '/'); return r.status === 200 && r; });
        assert.match(root.body, /hello from pier front/);
        assert.ok(root.headers['x-request-id'], 'the edge adds a request id');
        // /api is stripped to / on the api instance (busybox httpd serves /index.html there).
        const api = await until('api routed', async () => { const r = await p.get(host, '/api'); return r.status === 200 && r; });
        assert.match(api.body, /hello from pier api/);
        assert.match((await p.get(host, '/api/')).body, /hello from pier api/);
        // /api/health reaches the api instance as /health (the test app's health file), proving the strip.
        const health = await p.get(host, '/api/health');
        assert.equal(health.status, 200);
        assert.equal(health.body, 'ok\n');
        // /apix is not under /api: it falls to the front service, which has no such file.
        const apix = await p.get(host, '/apix');
        assert.equal(apix.status, 404);
        assert.doesNotMatch(apix.body, /No app is served/);
        // The host is matched without regard to case or port.
        assert.match((await p.get(host.toUpperCase() + ':80', '/')).body, /hello from pier front/);
      });

      await t.test('404 page for an unknown host; a private service is not reachable from the edge', async () => {
        const r = await p.get('nothing-here.localhost', '/', { accept: 'application/json' });
        assert.equal(r.status, 404);
        const body = JSON.parse(r.body);
        assert.equal(body.code, 'no_route');
        assert.match(body.message, /nothing-here\.localhost/);
        // The private service's name as a host or a path never reaches it.
        for (const [host, path] of [[p.hostOf('db'), '/'], [`db.shop.internal`, '/'], [`db.shop.internal:8000`, '/']]) {
          const x = await p.get(host, path);
          assert.equal(x.status, 404, `${host}${path}`);
          assert.doesNotMatch(x.body, /private-db/);
        }
        const routes = await p.get(p.hostOf('shop'), '/db');
        assert.doesNotMatch(routes.body, /private-db/);
      });

      await t.test('private networking: by <service>.<app>.internal and <service> inside the app, not from another app', async () => {
        const [frontInst] = await p.instances(front.id, 'HEALTHY');
        const [intruderInst] = await p.instances(intruder.id, 'HEALTHY');
        assert.ok(frontInst?.allocation_id && intruderInst?.allocation_id, 'instances carry their container id');
        // busybox's own `timeout` bounds each probe (its wget -T crashes in the static build: exit 139).
        const wget = (url: string) => ['timeout', '5', 'wget', '-qO-', url];
        for (const url of ['http://db.shop.internal:8000/', 'http://db:8000/', 'http://api.shop.internal:8000/']) {
          const r = await until(`front reaches ${url}`, async () => {
            const x = await p.exec(frontInst.allocation_id, wget(url));
            if (x.code !== 0) throw new Error(`exit ${x.code}: ${x.output}`);
            return x;
          }, 20_000, 300);
          assert.match(r.output, url.includes('api') ? /hello from pier api/ : /hello from pier private-db/);
        }
        // The probe works from the other app's instance (its own service by name) ...
        const own = await until('intruder reaches itself', async () => {
          const x = await p.exec(intruderInst.allocation_id, wget('http://intruder.other.internal:8000/'));
          if (x.code !== 0) throw new Error(`exit ${x.code}: ${x.output}`);
          return x;
        }, 20_000, 300);
        assert.match(own.output, /hello from pier intruder/);
        // ... but it neither resolves shop's names nor reaches the container's address.
        for (const url of ['http://db.shop.internal:8000/', 'http://db:8000/']) {
          const x = await p.exec(intruderInst.allocation_id, wget(url));
          assert.doesNotMatch(x.output, /hello from pier/, `${url} must not be reachable from app other`);
        }
        const [dbInst] = await p.instances(db.id, 'HEALTHY');
        type Net = { HostConfig: { NetworkMode: string }; NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> } };
        let inspect = await p.engine.json<Net>('GET', `/containers/${dbInst.allocation_id}/json`);
        // An instance in a network holder's namespace (Docker's holder pool): its network is the holder's.
        const holder = /^container:(.+)$/.exec(inspect.HostConfig.NetworkMode)?.[1];
        if (holder) inspect = await p.engine.json<Net>('GET', `/containers/${holder}/json`);
        const nets = Object.entries(inspect.NetworkSettings.Networks);
        const appNet = nets.find(([name]) => name === `pier-app-${shop}`);
        assert.ok(appNet, `db is on its app network (has ${nets.map(([n]) => n).join(', ')})`);
        assert.ok(appNet[1].Aliases?.includes('db') && appNet[1].Aliases.includes('db.shop.internal'), `aliases: ${appNet[1].Aliases}`);
        const byIp = await p.exec(intruderInst.allocation_id, wget(`http://${appNet[1].IPAddress}:8000/`));
        assert.doesNotMatch(byIp.output, /hello from pier/, `db's address must not be reachable from app other`);
      });

      await t.test('regions: x-pier-region picks the region; without a healthy fra instance, was serves', async () => {
        const host = p.hostOf('geo');
        for (const region of ['fra', 'was']) {
          for (let i = 0; i < 4; i++) {
            const r = await p.get(host, '/', { 'x-pier-region': region });
            assert.equal(r.status, 200);
            assert.match(r.body, new RegExp(`hello from pier region-${region}`));
          }
        }
        const [fraInst] = (await p.instances(geoSvc.id, 'HEALTHY')).filter((i: any) => i.region === 'fra');
        assert.ok(fraInst, 'a healthy fra instance');
        // Kill fra's container: the edge must fail over to was (by refused connections at first, then by routes).
        await p.engine.json('POST', `/containers/${fraInst.allocation_id}/kill`);
        const served = await until('fra requests served by was', async () => {
          const r = await p.get(host, '/', { 'x-pier-region': 'fra' });
          return r.status === 200 && r.body.includes('region-was') && r;
        }, 30_000, 100);
        assert.match(served.body, /hello from pier region-was/);
        // The controller restarts fra; once healthy again it serves fra's clients again.
        await until('fra serves again', async () => {
          const r = await p.get(host, '/', { 'x-pier-region': 'fra' });
          return r.status === 200 && r.body.includes('region-fra');
        }, 60_000, 200);
      });

      await t.test('zero failed requests while the service is redeployed twice under load', async (t) => {
        const host = p.hostOf('load');
        const first = (await p.service(loadSvc.id)).active_deployment_id as string;
        await until('load app routed', async () => (await p.get(host, '/')).body.includes(`dep-${first}`));
        const stats = await underLoad(p.edgeUrl, host, 8, async (seen) => {
          for (let round = 0; round < 2; round++) {
            const r = await p.api('POST', `/v1/services/${loadSvc.id}/redeploy`, {});
            assert.equal(r.status, 200, JSON.stringify(r.body));
            const id = r.body.deployment.id as string;
            await until(`deployment ${id} active and serving`, async () =>
              (await p.service(loadSvc.id)).active_deployment_id === id && seen.has(`dep-${id}`), 90_000, 200);
            // Let the old deployment finish stopping while the load continues.
            await until('old instances stopped', async () => (await p.instances(loadSvc.id)).filter((i: any) => i.status !== 'STOPPED').length === 1, 60_000, 200);
          }
        });
        t.diagnostic(`load: ${stats.ok} requests answered by ${[...stats.bodies].join(', ')}`);
        assert.ok(stats.ok > 100, `enough requests went through (${stats.ok})`);
        if (stats.failures.length > 0) {
          const rows = (await p.api('GET', `/v1/instances?service_id=${loadSvc.id}&limit=20`)).body.instances ?? [];
          const story = rows.map((i: any) => `${i.deployment_id.slice(0, 8)} ${i.status} ${i.messages?.[0] ?? ''}`).join(' | ');
          assert.fail(`${stats.failures.length} failed requests out of ${stats.ok + stats.failures.length}: ${summarize(stats.failures)}; instances: ${story}`);
        }
        // On HAProxy the load went straight to the instances, not through the Node edge behind it.
        const direct = await haproxyDirectRequests(p.edgeUrl);
        if (direct !== undefined) t.diagnostic(`HAProxy answered ${direct} requests through the apps' backends`);
        if (dataplane === 'haproxy') assert.ok(direct !== undefined && direct >= stats.ok / 2, `HAProxy served ${direct} of ${stats.ok} requests itself`);
        else assert.equal(direct, undefined);
        // The latency histogram (charts, the response-time autoscaling target) counts the load's requests on either
        // plane. HAProxy's are read from its stick tables once a second; a reload's last second of counts is lost.
        const want = dataplane === 'haproxy' ? Math.floor(stats.ok * 0.95) : stats.ok;
        const counted = await until('the route latency histogram counts the load', async () => {
          const text = String((await p.api('GET', '/metrics')).body);
          const n = [...text.matchAll(/^pier_edge_route_request_duration_seconds_count\{([^}]*)\} (\d+)$/gm)]
            .filter((m) => m[1]!.includes(`service="${loadSvc.id}"`)).reduce((a, m) => a + Number(m[2]), 0);
          return n >= want ? n : undefined;
        }, 10_000, 250);
        t.diagnostic(`latency histogram: ${counted} requests counted for ${stats.ok} answered`);
        const last = (await p.service(loadSvc.id)).active_deployment_id as string;
        assert.notEqual(last, first);
        assert.ok(stats.bodies.has(`dep-${first}`) && stats.bodies.has(`dep-${last}`), `switched deployments: ${[...stats.bodies].join(', ')}`);
        assert.equal(stats.bodies.size, 3, 'three deployments answered in turn');
      });

      await t.test('503 names the service status when no instance is healthy (paused service)', async () => {
        const host = p.hostOf('shop');
        const r = await p.api('POST', `/v1/services/${apiSvc.id}/pause`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        await until('api paused', async () => (await p.service(apiSvc.id)).status === 'PAUSED', 60_000);
        // The API can read PAUSED before the edge has the table that says so: the controller pass that writes it hands
        // the edge its table when it ends, and until then the page names PAUSING (on either data plane). Wait for it.
        const page = await until('503 for /api naming PAUSED', async () => {
          const x = await p.get(host, '/api', { accept: 'application/json' });
          if (x.status !== 503 || !x.body.includes('(status PAUSED)')) throw new Error(`${x.status} ${x.body.slice(0, 200)}`);
          return x;
        }, 20_000);
        const body = JSON.parse(page.body);
        assert.equal(body.code, 'unavailable');
        assert.match(body.message, /Service api has no healthy instance \(status PAUSED\)/);
        // The rest of the app keeps serving.
        assert.match((await p.get(host, '/')).body, /hello from pier front/);
      });
    } finally {
      await p.close();
    }
  });
}

/** Distinct failure messages with their counts. */
function summarize(failures: string[]): string {
  const counts = new Map<string, number>();
  for (const f of failures) {
    const key = f.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').slice(0, 140);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(' | ');
}

