// Real apps through a real Pier (API, controller, builder, docker runtime, edge), built by buildpack detection from
// the registries (npm, PyPI, the Go module proxy) and deployed as a user would with `pier deploy DIR` (the directory
// packed as the CLI packs it, uploaded as an archive): each app is made at test time (real-apps-sources.ts), must serve
// its main page through the edge, and its second deploy must take the dependency layer from the build cache (once per
// buildpack and package manager: RealApp.cacheCheckedBy). Builds
// run one after the other (2 cores). The host's CA bundle is carried into builds the way an operator configures it
// (PIER_BUILD_CA_FILE), since outbound TLS may be intercepted. PIER_REAL_APPS=flask,express runs a subset.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEdgePier, until, type EdgePier } from '../edge/harness.ts';
import { packDirectory } from '../../src/cli/commands/deploy.ts';
import { REAL_APPS, write, type RealApp } from './real-apps-sources.ts';
import { TEST_GO_STD_DIR } from './helpers.ts';

// The Go apps' first builds copy the standard library compiled once for every suite (src/build/go-std-cache.ts).
process.env.PIER_BUILD_GO_STD_DIR ??= TEST_GO_STD_DIR;
if (!process.env.PIER_BUILD_CA_FILE && existsSync('/etc/ssl/certs/ca-certificates.crt')) {
  process.env.PIER_BUILD_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
}
const only = process.env.PIER_REAL_APPS?.split(',').map((s) => s.trim()).filter(Boolean);
const apps = REAL_APPS.filter((a) => !only || only.includes(a.name));
const BUILD_LIMIT_MS = 420_000;

let p: EdgePier;
const work = mkdtempSync(join(tmpdir(), 'pier-real-apps-'));
const images: string[] = [];

// Every app is made before Pier starts: the package managers run synchronously, and an API client idle for
// that long would find its kept-alive connection closed by the server.
const made = new Map<string, Error | undefined>();
before(async () => {
  for (const app of apps) {
    try { app.make(join(work, app.name)); made.set(app.name, undefined); } catch (err) { made.set(app.name, err as Error); }
  }
  p = await startEdgePier();
});
after(async () => {
  try {
    await p?.close();
  } finally {
    for (const tag of images) await p?.engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(tag)}`, { query: { force: 1 } }).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
});

/** Packs and uploads a directory as `pier deploy` does; resolves with the archive id. */
async function upload(dir: string): Promise<string> {
  const { data } = await packDirectory(dir);
  const r = await p.api('POST', '/v1/archives', { size: String(data.length) });
  if (r.status !== 200) throw new Error(`archive: ${r.status} ${JSON.stringify(r.body)}`);
  const up = await fetch(r.body.archive.upload_url, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/gzip' } });
  if (!up.ok) throw new Error(`upload: HTTP ${up.status}`);
  return r.body.archive.id as string;
}

async function definition(dir: string, instanceType = 'nano', protocol = 'http'): Promise<Record<string, unknown>> {
  return {
    type: 'WEB', archive: { id: await upload(dir), buildpack: {} }, ports: [{ port: 8000, protocol }], routes: [{ port: 8000, path: '/' }],
    regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: instanceType }],
  };
}

/** Waits for the service's latest deployment (other than `previous`) to be HEALTHY; fails with its messages on ERROR. */
async function latestHealthy(serviceId: string, previous?: string): Promise<{ id: string; provisioning_info: { image: string } }> {
  // until() retries through a throw, so an ERROR is returned and thrown here, at once.
  const d = await until('deployment HEALTHY or ERROR', async () => {
    const s = await p.service(serviceId);
    if (!s.latest_deployment_id || s.latest_deployment_id === previous) return undefined;
    const dep = (await p.api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
    return dep.status === 'HEALTHY' || dep.status === 'ERROR' ? dep : undefined;
  }, BUILD_LIMIT_MS, 1000);
  if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}\n${(await buildLog(d.id)).slice(-40).join('\n')}`);
  return d;
}

/**
 * A registry answering with a stale index: a version the registry lists for one package but not yet for another it
 * depends on (npm's mirror here once held vue 3.5.47 two days before @vue/compiler-dom 3.5.47). The registry's own
 * state, not Pier's: the build is run again once, after a pause, as a user would redeploy.
 */
const REGISTRY_SKEW = /npm error code ETARGET|ERR_PNPM_NO_MATCHING_VERSION|No matching distribution found for|Couldn't find any versions for/;

/** The first deployment's HEALTHY, with one redeploy when its build met a registry's stale index (REGISTRY_SKEW). */
async function firstHealthy(t: { diagnostic(m: string): void }, serviceId: string): Promise<{ id: string; provisioning_info: { image: string } }> {
  try {
    return await latestHealthy(serviceId);
  } catch (err) {
    const failed = (await p.service(serviceId)).latest_deployment_id as string;
    const skew = (await buildLog(failed)).find((l) => REGISTRY_SKEW.test(l));
    if (!skew) throw err;
    t.diagnostic(`the registry's index was stale (${skew.replace(/\x1b\[[0-9;]*m/g, '').trim()}); building again in 30 s`);
    await new Promise((r) => setTimeout(r, 30_000));
    const again = await p.api('POST', `/v1/services/${serviceId}/redeploy`, {});
    assert.equal(again.status, 200, JSON.stringify(again.body));
    return latestHealthy(serviceId, failed);
  }
}

async function buildLog(deploymentId: string): Promise<string[]> {
  const r = await p.api('GET', `/v1/streams/logs/query?type=build&deployment_id=${deploymentId}&limit=1000&order=asc`);
  return (r.body.data ?? []).map((l: { msg: string }) => l.msg);
}

async function servesMainPage(app: RealApp, host: string): Promise<void> {
  if (app.serves) {
    if (!p.tlsUrl) throw new Error(`${app.name} is checked over HTTPS, and this Pier's edge has no TLS address`);
    const edge = { tlsUrl: p.tlsUrl, host, rootPem: p.caRootPem() };
    let last: Error | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      try { await app.serves(edge); return; } catch (err) { last = err as Error; }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${app.name} did not serve within 30 s: ${last?.message}`);
  }
  const reply = await until(`${app.name} main page`, async () => {
    const r = await p.get(host, app.path ?? '/');
    return r.status === 200 && app.expect.test(r.body) ? r : undefined;
  }, 30_000, 500).catch(async (err) => {
    const r = await p.get(host, app.path ?? '/').catch((e) => ({ status: 0, body: String(e) }));
    throw new Error(`${(err as Error).message}; last answer: HTTP ${r.status} ${r.body.slice(0, 500)}`);
  });
  assert.match(reply.body, app.expect);
}

/** The build step naming `fragment`, and whether the engine said it came from the cache. */
function stepCached(log: string[], fragment: string): boolean {
  const i = log.findIndex((l) => /^Step \d+\/\d+ : /.test(l) && l.includes(fragment));
  assert.ok(i >= 0, `no build step with ${JSON.stringify(fragment)} in:\n${log.join('\n')}`);
  return /Using cache/.test(log[i + 1] ?? '');
}

for (const app of apps) {
  // Deployed once when another app in this run checks the same dependency step's cache (RealApp.cacheCheckedBy).
  const checker = app.cacheCheckedBy ? apps.find((a) => a.name === app.cacheCheckedBy) : undefined;
  if (app.cacheCheckedBy && !REAL_APPS.some((a) => a.name === app.cacheCheckedBy && a.cachedStep === app.cachedStep && !a.cacheCheckedBy)) {
    throw new Error(`${app.name}: cacheCheckedBy ${app.cacheCheckedBy} must name an app that checks the same step (${app.cachedStep}) itself`);
  }
  const title = checker
    ? `${app.name}: built from the registries, serves ${app.serves ? 'gRPC calls' : 'its main page'} through the edge (its dependency layer's cache is checked by ${checker.name})`
    : `${app.name}: built from the registries, serves ${app.serves ? 'gRPC calls' : 'its main page'} through the edge; the second deploy reuses the dependency layer`;
  test(title, { timeout: 3 * BUILD_LIMIT_MS + 90_000 }, async (t) => {
    const dir = join(work, app.name);
    const failed = made.get(app.name);
    if (failed) throw new Error(`making the app failed: ${failed.message}`);
    const name = `ra-${app.name}`;
    const appId = await p.createApp(name);
    const svc = await p.createService(appId, 'web', await definition(dir, app.instanceType, app.protocol));
    const first = await firstHealthy(t, svc.id);
    images.push(first.provisioning_info.image);
    assert.equal(stepCached(await buildLog(first.id), app.cachedStep), false, 'the first build has nothing cached');
    await servesMainPage(app, p.hostOf(name));
    if (checker) { await p.api('DELETE', `/v1/apps/${appId}`); return; }

    const redeploy = await p.api('POST', `/v1/services/${svc.id}/redeploy`, {});
    assert.equal(redeploy.status, 200, JSON.stringify(redeploy.body));
    const second = await latestHealthy(svc.id, first.id);
    images.push(second.provisioning_info.image);
    const log = await buildLog(second.id);
    assert.ok(stepCached(log, app.cachedStep), `the second build ran ${app.cachedStep} again:\n${log.join('\n')}`);
    if (app.name === 'go-gin') assert.ok(!log.some((l) => /go: downloading/.test(l)), 'the second Go build downloaded modules again');
    await servesMainPage(app, p.hostOf(name));
    await p.api('DELETE', `/v1/apps/${appId}`);
  });
}

test('a project asking for a Python this Pier does not offer fails with the fix', { skip: only !== undefined && !only.includes('python-version') }, async () => {
  const dir = join(work, 'python-version');
  write(dir, { 'requirements.txt': 'flask\n', 'app.py': '', '.python-version': '3.99\n' });
  const appId = await p.createApp('ra-pyversion');
  const svc = await p.createService(appId, 'web', await definition(dir));
  const failed = await until('deployment ERROR', async () => {
    const s = await p.service(svc.id);
    const d = s.latest_deployment_id ? (await p.api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment : undefined;
    return d?.status === 'ERROR' ? d : undefined;
  }, 120_000, 500);
  assert.match(failed.messages.join('\n'), /\.python-version asks for Python 3\.99, but this Pier offers only Python 3\.\d+/);
  assert.match(failed.messages.join('\n'), /change \.python-version to 3\.\d+/);
});
