// Garbage collection of build outputs: which deployments are retained (a table), and a pass against a real store and
// real directories: build directories, caches and archives of deployments nobody can roll back to are removed, the
// last N per service and whatever runs stay, a deleted service leaves nothing, a second pass removes nothing more.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadHousekeeping } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { collectGarbage, gcComponent, retainedDeployments, type BuiltImages } from '../../src/control/gc.ts';
import { listDeployments, updateDeployment } from '../../src/store/deployments.ts';
import { updateService } from '../../src/store/services.ts';
import { archiveFile, getArchive, insertArchive } from '../../src/store/archives.ts';
import type { DeploymentOutputRow, ServiceRetentionRow } from '../../src/store/retention.ts';
import { apiClient } from '../support/api-client.ts';

test('retained: the newest N per live service, what it points at, anything unfinished; nothing of a deleted service', () => {
  const dep = (id: string, serviceId: string, version: number, status = 'STOPPED'): DeploymentOutputRow => ({ id, serviceId, version, status });
  const services: ServiceRetentionRow[] = [
    { id: 's1', status: 'HEALTHY', pinned: ['a1'] },
    { id: 's2', status: 'DELETED', pinned: ['b3'] },
    { id: 's3', status: 'DELETING', pinned: ['c1'] },
  ];
  const deployments = [
    dep('a1', 's1', 1, 'HEALTHY'), dep('a2', 's1', 2), dep('a3', 's1', 3, 'ERROR'), dep('a4', 's1', 4), dep('a5', 's1', 5, 'CANCELED'),
    dep('b1', 's2', 1), dep('b2', 's2', 2, 'STOPPING'), dep('b3', 's2', 3),
    dep('c1', 's3', 1, 'STOPPING'), dep('c2', 's3', 2),
    dep('x1', 'gone', 1), dep('x2', 'gone', 2, 'PROVISIONING'),
  ];
  const rows: [number, string[]][] = [
    [1, ['a1', 'a5', 'b2', 'c1', 'c2', 'x2']],
    [2, ['a1', 'a4', 'a5', 'b2', 'c1', 'c2', 'x2']],
    [10, ['a1', 'a2', 'a3', 'a4', 'a5', 'b2', 'c1', 'c2', 'x2']],
  ];
  for (const [keep, want] of rows) assert.deepEqual([...retainedDeployments(services, deployments, keep)].sort(), want, `keep ${keep}`);
});

test('settings: PIER_GC_KEEP_DEPLOYMENTS, PIER_GC_INTERVAL and PIER_DOMAINS_CLAIM_TTL; unset means the defaults', () => {
  assert.deepEqual(loadHousekeeping({}), {});
  assert.deepEqual(loadHousekeeping({ PIER_GC_KEEP_DEPLOYMENTS: '3', PIER_GC_INTERVAL: '15m', PIER_DOMAINS_CLAIM_TTL: '2d' }), {
    gcKeepDeployments: 3, gcIntervalMs: 15 * 60_000, domainClaimTtlMs: 2 * 86_400_000,
  });
  assert.equal(loadHousekeeping({ PIER_GC_INTERVAL: 'off' }).gcIntervalMs, 0);
  for (const [k, v, re] of [
    ['PIER_GC_KEEP_DEPLOYMENTS', '0', /PIER_GC_KEEP_DEPLOYMENTS must be a whole number from 1 to 1000, got "0"/],
    ['PIER_GC_INTERVAL', '5s', /PIER_GC_INTERVAL must be a duration of 10s or more/],
    ['PIER_DOMAINS_CLAIM_TTL', 'soon', /PIER_DOMAINS_CLAIM_TTL must be a duration of a minute or more such as 7d or 12h, got "soon"/],
  ] as const) {
    assert.throws(() => loadHousekeeping({ [k]: v }), (err: Error) => err instanceof ConfigError && re.test(err.message));
  }
});

const TOKEN = 'gc-test-token-0123456789abcdef';
let dir: string;
let pier: PierHandle;
let api: ReturnType<typeof apiClient>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pier-gc-'));
  pier = await startPier(loadConfig({ 'data-dir': join(dir, 'pier'), 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  api = apiClient(pier.apiUrl, TOKEN);
});

after(async () => {
  await pier?.close();
  rmSync(dir, { recursive: true, force: true });
});

const def = (n: number) => ({
  type: 'WEB', docker: { image: `example/app:${n}` }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ path: '/', port: 8080 }],
  instance_types: [{ type: 'nano' }], regions: ['fra'], scalings: [{ min: 1, max: 1 }],
});

/** A service with `versions` deployments, all finished but the newest (HEALTHY, active); each with a build directory and an archive. */
async function serviceWithHistory(appName: string, versions: number, buildsDir: string, archivesDir: string) {
  const app = (await api('POST', '/v1/apps', { name: appName })).body.app;
  const created = await api('POST', '/v1/services', { app_id: app.id, definition: { ...def(1), name: 'web' } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const service = created.body.service;
  for (let v = 2; v <= versions; v++) assert.equal((await api('PATCH', `/v1/services/${service.id}`, { definition: { ...def(v), name: 'web' } })).status, 200);
  const deployments = (await listDeployments(pier.store.db, { serviceId: service.id })).items.sort((a, b) => Number(a.version) - Number(b.version));
  assert.equal(deployments.length, versions);
  const newest = deployments.at(-1)!;
  for (const d of deployments) {
    // Each as if built from its own uploaded archive.
    const archiveId = `${d.id.slice(0, 8)}-archive`;
    await insertArchive(pier.store.db, { id: archiveId, organization_id: d.organization_id, size: 10, upload_token_hash: 'x', uploaded_at: d.created_at, created_at: d.created_at });
    writeFileSync(archiveFile(archivesDir, archiveId), 'tar.gz');
    // Definitions are immutable through the repository: write the archive source into the row as an API create would have.
    await pier.store.db.run('UPDATE deployments SET data = ? WHERE id = ?', [JSON.stringify({ ...d, definition: { ...d.definition, archive: { id: archiveId } } }), d.id]);
    await updateDeployment(pier.store.db, d.id, { status: d.id === newest.id ? 'HEALTHY' : 'STOPPED' });
    mkdirSync(join(buildsDir, 'deployments', d.id, 'app'), { recursive: true });
    writeFileSync(join(buildsDir, 'deployments', d.id, 'app', 'server.js'), '// built');
  }
  await updateService(pier.store.db, service.id, { active_deployment_id: newest.id, latest_deployment_id: newest.id });
  mkdirSync(join(buildsDir, 'cache', service.id), { recursive: true });
  return { service, deployments, archiveOf: (id: string) => `${id.slice(0, 8)}-archive` };
}

test('a pass on disk: the last N deployments per service keep their build directory and archive; the rest go', async () => {
  const buildsDir = join(dir, 'pier', 'builds');
  const archivesDir = join(dir, 'pier', 'archives');
  mkdirSync(archivesDir, { recursive: true });
  const { service, deployments, archiveOf } = await serviceWithHistory('gcapp', 6, buildsDir, archivesDir);
  const other = await serviceWithHistory('gcother', 2, buildsDir, archivesDir);
  // Leftovers the store does not know: a fresh one (a build that just started) stays, an old one goes.
  const fresh = join(buildsDir, 'deployments', 'not-yet-in-the-store');
  const stale = join(buildsDir, 'deployments', 'long-gone-deployment');
  mkdirSync(fresh, { recursive: true });
  mkdirSync(stale, { recursive: true });
  const old = new Date(Date.now() - 3 * 86_400_000);
  utimesSync(stale, old, old);
  // An upload not deployed yet stays; one never deployed for days goes.
  const now = new Date().toISOString();
  await insertArchive(pier.store.db, { id: 'fresh-upload', organization_id: service.organization_id, size: 1, upload_token_hash: 'y', uploaded_at: now, created_at: now });
  await insertArchive(pier.store.db, { id: 'stale-upload', organization_id: service.organization_id, size: 1, upload_token_hash: 'z', uploaded_at: old.toISOString(), created_at: old.toISOString() });
  writeFileSync(archiveFile(archivesDir, 'fresh-upload'), 'x');
  writeFileSync(archiveFile(archivesDir, 'stale-upload'), 'x');

  // Images too: a scripted engine listing one image per deployment.
  const removed: string[] = [];
  const images: BuiltImages = {
    list: async () => [...deployments, ...other.deployments].filter((d) => !removed.includes(`pier-build/x:${d.id}`))
      .map((d) => ({ ref: `pier-build/x:${d.id}`, deploymentId: d.id, createdMs: Date.now() })),
    remove: async (ref) => { removed.push(ref); return 'removed'; },
  };
  const report = await collectGarbage({ db: pier.store.db, buildsDir, archivesDir, images, keep: 3 });
  const kept = deployments.slice(-3);
  const gone = deployments.slice(0, -3);
  for (const d of kept) {
    assert.ok(existsSync(join(buildsDir, 'deployments', d.id)), `v${d.version} directory kept`);
    assert.ok(existsSync(archiveFile(archivesDir, archiveOf(d.id))), `v${d.version} archive kept`);
  }
  for (const d of gone) {
    assert.equal(existsSync(join(buildsDir, 'deployments', d.id)), false, `v${d.version} directory removed`);
    assert.equal(existsSync(archiveFile(archivesDir, archiveOf(d.id))), false, `v${d.version} archive removed`);
    assert.equal(await getArchive(pier.store.db, archiveOf(d.id)), undefined, 'and its row');
  }
  assert.deepEqual(removed.sort(), gone.map((d) => `pier-build/x:${d.id}`).sort());
  assert.deepEqual(report.images.sort(), removed.sort());
  // The other service has only two deployments: all kept.
  for (const d of other.deployments) assert.ok(existsSync(join(buildsDir, 'deployments', d.id)));
  assert.ok(existsSync(fresh));
  assert.equal(existsSync(stale), false);
  assert.ok(existsSync(archiveFile(archivesDir, 'fresh-upload')));
  assert.equal(existsSync(archiveFile(archivesDir, 'stale-upload')), false);
  assert.ok(existsSync(join(buildsDir, 'cache', service.id)));

  // Settled: a second pass removes nothing.
  const again = await collectGarbage({ db: pier.store.db, buildsDir, archivesDir, images, keep: 3 });
  assert.deepEqual(again, { images: [], directories: [], archives: [], inUse: [], building: [], deleting: [], trace: { events: 0, activities: 0 } });

  // Deleting the service: the API marks it DELETING (its instances still run, nothing of it goes yet); the component
  // keeps looking, with no further kick, until the reconciler has marked it DELETED; then nothing of it is left.
  assert.equal((await api('DELETE', `/v1/services/${service.id}`)).status, 200);
  const component = gcComponent({ db: pier.store.db, buildsDir, archivesDir, images, keep: 3, intervalMs: 0, minGapMs: 0, retryMs: 50 });
  try {
    component.start();
    const during = await component.runOnce();
    assert.deepEqual(during.deleting, [service.id]);
    assert.ok(kept.every((d) => existsSync(join(buildsDir, 'deployments', d.id))), 'nothing goes while it is being deleted');
    for (const d of kept) await updateDeployment(pier.store.db, d.id, { status: 'STOPPED' });
    await updateService(pier.store.db, service.id, { status: 'DELETED' });
    for (let i = 0; i < 100 && existsSync(join(buildsDir, 'cache', service.id)); i++) await new Promise((r) => setTimeout(r, 20));
    for (const d of kept) {
      assert.equal(existsSync(join(buildsDir, 'deployments', d.id)), false);
      assert.equal(existsSync(archiveFile(archivesDir, archiveOf(d.id))), false);
    }
    assert.equal(existsSync(join(buildsDir, 'cache', service.id)), false, 'the dependency cache goes with the service');
    assert.ok(kept.every((d) => removed.includes(`pier-build/x:${d.id}`)));
    for (const d of other.deployments) assert.ok(existsSync(join(buildsDir, 'deployments', d.id)), 'another service is untouched');
  } finally {
    await component.stop();
  }
});
