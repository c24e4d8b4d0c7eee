// Network isolation between organizations on the process runtime, through a real Pier (API, controller, edge):
// app `shop` (installation organization) has services api and front, app `other` (a tenant organization) has intruder.
// Probes run inside instances (nsenter into the sandbox): front reaches api by address and by name, intruder reaches
// neither shop's instances nor the host (Pier's API, a listener on every host address); the edge routes to both apps;
// a restarted Pier adopts the instances with their namespaces and addresses unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierComponent, type PierCore } from '../../src/main.ts';
import { platformComponents } from '../../src/platform.ts';
import type { InstanceSpec, Runtime } from '../../src/runtime/contract.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { networkingUnavailable } from '../../src/runtime/process/netns.ts';
import { probeFromInstance } from '../../src/runtime/process/probe.ts';
import { prepareTestAppDir } from '../../src/runtime/testing/images.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { apiClient } from '../support/api-client.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';
import { appDirRuntime } from '../support/app-dir-runtime.ts';

const unavailable = networkingUnavailable();
const CGROUP_PARENT = 'pier'; // the default, so removeInstallationWorkloads finds the instances' cgroups

/**
 * The process driver running the test app directory for every instance (deployments cannot name a directory without
 * a build), keeping the network and aliases the controller asked for; everything else is the default platform.
 */
function components(core: PierCore, app: { dir: string; entrypoint: string[] }, holder: { runtime?: ProcessRuntime }): Promise<PierComponent[]> {
  const dir = join(core.config.dataDir, 'process');
  mkdirSync(dir, { recursive: true });
  const inner = new ProcessRuntime({ stateDir: dir, cgroupParent: CGROUP_PARENT, network: 'isolated' });
  holder.runtime = inner;
  const runtime = appDirRuntime(inner, app);
  return platformComponents(core, { runtime });
}


/** A web service routed at `path`: two services of one app may not serve the same prefix. */
function webService(name: string, path = '/'): Record<string, unknown> {
  return {
    name, type: 'WEB',
    docker: { image: 'pier-test/directory' },
    ports: [{ port: 8000, protocol: 'http' }],
    routes: [{ port: 8000, path }],
    regions: ['was'],
    scalings: [{ min: 1, max: 1 }],
    instance_types: [{ type: 'nano' }],
    env: [{ key: 'GREETING', value: name }],
    health_checks: [{ http: { port: 8000, path: '/health' }, grace_period: 0, interval: 1 }],
  };
}

test('process runtime: no network path between organizations\' apps, nor to the host; same app by name', {
  skip: unavailable ? `private networks unavailable: ${unavailable}` : false, timeout: 240_000,
}, async (t) => {
  process.env.PIER_EDGE_WORKERS = '1';
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-netsec-'));
  const app = prepareTestAppDir(dataDir);
  const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime: 'process' }, { ...process.env, PIER_TOKEN: token });
  const holder: { runtime?: ProcessRuntime } = {};
  const boot = () => startPier(config, { log: () => {}, components: (core) => components(core, app, holder) });
  let pier = await boot();
  const hostServer = http.createServer((_q, s) => s.end('host-secret'));
  await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', r));
  const hostPort = (hostServer.address() as { port: number }).port;
  try {
    const api = apiClient(pier.apiUrl, token);
    const tenant = await api('POST', '/v1/pier/organizations', { name: 'tenant-net' });
    assert.equal(tenant.status, 200, JSON.stringify(tenant.body));
    const tenantApi = apiClient(pier.apiUrl, tenant.body.credential.token);
    const mk = async (client: typeof api, appName: string, services: string[]) => {
      const a = await client('POST', '/v1/apps', { name: appName });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const out: Record<string, string> = {};
      for (const [i, s] of services.entries()) {
        const r = await client('POST', '/v1/services', { app_id: a.body.app.id, definition: webService(s, i === 0 ? '/' : `/${s}`) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        out[s] = r.body.service.id;
      }
      return out;
    };
    const shop = await mk(api, 'shop', ['api', 'front']);
    const other = await mk(tenantApi, 'other', ['intruder']);
    const instanceOf = async (client: typeof api, serviceId: string) => until(`a healthy instance of ${serviceId}`, async () => {
      const r = await client('GET', `/v1/instances?service_id=${serviceId}&statuses=HEALTHY`);
      return r.body.instances?.[0]?.id as string | undefined;
    }, 90_000);
    const ids = { api: await instanceOf(api, shop.api), front: await instanceOf(api, shop.front), intruder: await instanceOf(tenantApi, other.intruder) };
    const ipOf = async (id: string) => (await holder.runtime!.recover()).find((h) => h.instanceId === id)!.endpoints[0].host;
    const ips = { api: await ipOf(ids.api), front: await ipOf(ids.front), intruder: await ipOf(ids.intruder) };
    t.diagnostic(`instance addresses: ${JSON.stringify(ips)}`);
    const probe = (from: string, url: string) => probeFromInstance(app.entrypoint[0], CGROUP_PARENT, from, url);

    // The edge routes to both organizations' apps.
    const edgeUrl = (await api('GET', '/v1/pier/info')).body.edge_url as string;
    const viaEdge = async (host: string, base = edgeUrl) => { const r = await edgeGet(base, host); return r.status === 200 ? r.body : undefined; };
    const hosts = { shop: `shop-${config.orgName}.${config.domain}`, other: `other-tenant-net.${config.domain}` };
    assert.match(await until('edge routes shop', () => viaEdge(hosts.shop), 30_000), /hello from pier (api|front)/);
    assert.match(await until('edge routes other', () => viaEdge(hosts.other), 30_000), /hello from pier intruder/);

    // Same app: by address, by <service> and by <service>.<app>.internal.
    for (const url of [`http://${ips.api}:8000/`, 'http://api:8000/', 'http://api.shop.internal:8000/']) {
      const r = await until(`front reaches ${url}`, async () => { const x = await probe(ids.front, url); return x.ok && x; }, 20_000);
      assert.match(r.output, /hello from pier api/);
    }
    // The probe itself works from the other organization's instance ...
    const own = await until('intruder reaches itself', async () => { const x = await probe(ids.intruder, 'http://intruder.other.internal:8000/'); return x.ok && x; }, 20_000);
    assert.match(own.output, /hello from pier intruder/);
    // ... which reaches neither shop (addresses, names), nor Pier's API, nor a listener on any host address.
    const gateway = ips.intruder.replace(/\.\d+$/, '.1');
    const hostIps = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
    const apiPort = new URL(pier.apiUrl).port;
    const denied = [
      `http://${ips.api}:8000/`, `http://${ips.front}:8000/`, 'http://api.shop.internal:8000/', 'http://api:8000/',
      `http://127.0.0.1:${apiPort}/health`, `http://${gateway}:${apiPort}/health`,
      ...[...new Set([gateway, ...hostIps])].map((ip) => `http://${ip}:${hostPort}/`),
    ];
    const results = await Promise.all(denied.map((url) => probe(ids.intruder, url)));
    for (const [i, x] of results.entries()) {
      assert.equal(x.ok, false, `${denied[i]} must not be reachable from another organization's instance: ${x.output}`);
      assert.doesNotMatch(x.output, /hello from pier|host-secret|"status"/);
    }
    // The host listener really answers on those addresses (so the denials above are the firewall's doing).
    const direct = await fetch(`http://${gateway}:${hostPort}/`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text());
    assert.equal(direct, 'host-secret');

    // Restart: a new Pier on the same data directory adopts the instances; namespaces and addresses stay.
    const netnsOf = (id: string) => JSON.parse(readFileSync(join(dataDir, 'process', 'instances', id, 'net.json'), 'utf8')).netns as string;
    const namespaces = Object.values(ids).map(netnsOf);
    await pier.close();
    pier = await boot();
    for (const n of namespaces) assert.ok(existsSync(`/run/netns/${n}`), `namespace ${n} survives the restart`);
    const newEdge = (await apiClient(pier.apiUrl, token)('GET', '/v1/pier/info')).body.edge_url as string;
    const after = await until('edge routes other after the restart', () => viaEdge(hosts.other, newEdge), 30_000);
    assert.match(after, /hello from pier intruder/);
    assert.equal(await ipOf(ids.api), ips.api, 'the adopted instance keeps its address');
    const stillApi = await apiClient(pier.apiUrl, token)('GET', `/v1/instances?service_id=${shop.api}&statuses=HEALTHY`);
    assert.equal(stillApi.body.instances?.[0]?.id, ids.api, 'the same instance, adopted rather than replaced');
  } finally {
    await new Promise((r) => hostServer.close(r));
    await pier.close();
    const netDir = join(dataDir, 'process', 'instances');
    const nets = existsSync(netDir) ? readdirSync(netDir).flatMap((id) => {
      try { return [JSON.parse(readFileSync(join(netDir, id, 'net.json'), 'utf8')) as { netns: string; veth: string; bridge: string }]; } catch { return []; }
    }) : [];
    await removeInstallationWorkloads(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    for (const n of nets) {
      assert.ok(!existsSync(`/run/netns/${n.netns}`), `namespace ${n.netns} left behind`);
      assert.ok(!existsSync(`/sys/class/net/${n.veth}`), `veth ${n.veth} left behind`);
      assert.ok(!existsSync(`/sys/class/net/${n.bridge}`), `bridge ${n.bridge} left behind`);
    }
  }
});
