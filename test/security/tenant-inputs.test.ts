// Tenant input is hostile (issue #16): each attack below once worked against a real Pier API with a tenant's own
// token, and each must now fail safely with a stable error code naming the field. Two organizations, real API,
// real store; no runtime (what is refused here never reaches one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { getArchive } from '../../src/store/archives.ts';
import { until } from '../support/until.ts';
import { startTenants, webService, gitService, type Api } from './tenants.ts';

const fieldsOf = (body: any): string[] => (body?.fields ?? []).map((f: any) => f.field);
/** Pier's stable error code: `code` in Koyeb's Error body, `details[0].reason` where the reply is a google.rpc.Status. */
const codeOf = (body: any): string => (typeof body?.code === 'string' ? body.code : body?.details?.[0]?.reason);

async function app(api: Api, name: string): Promise<string> {
  const r = await api('POST', '/v1/apps', { name });
  assert.equal(r.status, 200, `create app ${name}: ${JSON.stringify(r.body)}`);
  return r.body.app.id;
}

test('public names: org pier\'s app victim-b and org b-pier\'s app victim cannot share victim-b-pier.<domain>', async () => {
  const t = await startTenants();
  try {
    const victim = await t.tenant('pier');
    const attacker = await t.tenant('b-pier');
    const victimApp = await app(victim.api, 'victim-b');
    assert.equal((await victim.api('GET', `/v1/apps/${victimApp}`)).body.app.domains[0].name, 'victim-b-pier.localhost');

    const taken = await attacker.api('POST', '/v1/apps', { name: 'victim' });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.equal(codeOf(taken.body), 'already_exists');
    assert.deepEqual(fieldsOf(taken.body), ['name']);
    assert.match(taken.body.fields[0].description, /victim-b-pier\.localhost.*app victim-b of organization pier/);
    assert.equal((await attacker.api('GET', '/v1/apps')).body.count, 0, 'nothing written');

    // Renaming into the host is refused the same way; the app keeps its name and host.
    const decoy = await app(attacker.api, 'decoy');
    const rename = await attacker.api('PATCH', `/v1/apps/${decoy}`, { name: 'victim' });
    assert.equal(rename.status, 409, JSON.stringify(rename.body));
    assert.equal(codeOf(rename.body), 'already_exists');
    assert.equal((await attacker.api('GET', `/v1/apps/${decoy}`)).body.app.domains[0].name, 'decoy-b-pier.localhost');

    // The other order: the first to take a host keeps it, whoever it is.
    await app(attacker.api, 'shop');
    const late = await victim.api('POST', '/v1/apps', { name: 'shop-b' });
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.match(late.body.message, /shop-b-pier\.localhost/);

    // Names that do not collide still work, and an app may be renamed to its own name.
    await app(attacker.api, 'victim2');
    assert.equal((await victim.api('PATCH', `/v1/apps/${victimApp}`, { name: 'victim-b' })).status, 200);
  } finally {
    await t.close();
  }
});

test('git sources: another organization\'s Pier remote, file:// and host paths are refused; remotes and the own remote are not', async () => {
  const t = await startTenants();
  try {
    const victim = await t.tenant('victim');
    const attacker = await t.tenant('attacker');
    const victimSvc = (await victim.api('POST', '/v1/services', { app_id: await app(victim.api, 'code'), name: 'web', definition: webService() })).body.service;
    const appId = await app(attacker.api, 'thief');
    const stolen = join(t.dataDir, 'git', `${victimSvc.id}.git`);
    for (const repository of [stolen, `file://${stolen}`, 'file:///etc', '/srv/any/repo', 'relative/repo', `${t.dataDir}/git/../git/${victimSvc.id}.git`]) {
      const r = await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: gitService(repository) });
      assert.equal(r.status, 400, `${repository}: ${JSON.stringify(r.body)}`);
      assert.equal(codeOf(r.body), 'invalid_argument');
      assert.deepEqual(fieldsOf(r.body), ['definition.git.repository'], repository);
      assert.match(r.body.fields[0].description, /remote URL .*Pier git remote/, repository);
    }
    for (const repository of ['ext::sh -c id', '--upload-pack=id', 'ftp://example.com/r.git']) {
      const r = await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: gitService(repository) });
      assert.equal(r.status, 400, `${repository}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(fieldsOf(r.body), ['definition.git.repository'], repository);
    }
    for (const [branch, field] of [['--upload-pack=id', 'definition.git.branch'], ['a..b', 'definition.git.branch'], ['x y', 'definition.git.branch']]) {
      const r = await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: gitService('https://github.com/o/r', { branch }) });
      assert.equal(r.status, 400, `${branch}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(fieldsOf(r.body), [field]);
    }
    assert.equal((await attacker.api('GET', '/v1/services')).body.count, 0, 'nothing written');

    // A remote URL is fine; so is the organization's own Pier git remote, at update.
    const ok = await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: gitService('https://github.com/o/r.git') });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const own = join(t.dataDir, 'git', `${ok.body.service.id}.git`);
    assert.equal((await attacker.api('PATCH', `/v1/services/${ok.body.service.id}`, { definition: gitService(own) })).status, 200);
    // An update cannot point it at the victim's repository either (dry run included).
    for (const q of ['', '?dry_run=true']) {
      const upd = await attacker.api('PATCH', `/v1/services/${ok.body.service.id}${q}`, { definition: gitService(stolen) });
      assert.equal(upd.status, 400, JSON.stringify(upd.body));
      assert.deepEqual(fieldsOf(upd.body), ['definition.git.repository']);
    }
    // By default (PIER_GIT_ALLOW_LOCAL=operator) the installation's operator may build from the host's disk.
    const opsApp = await app(t.operator, 'ops-app');
    assert.equal((await t.operator('POST', '/v1/services', { app_id: opsApp, name: 'web', definition: gitService('/srv/repo') })).status, 200);
  } finally {
    await t.close();
  }
});

test('PIER_GIT_ALLOW_LOCAL=off refuses the operator too; =operator lets the operator (only) build from the host; =all lets every tenant', async () => {
  const off = await startTenants({ PIER_GIT_ALLOW_LOCAL: 'off' });
  try {
    const opsApp = await app(off.operator, 'ops-app');
    const r = await off.operator('POST', '/v1/services', { app_id: opsApp, name: 'web', definition: gitService('/srv/repo') });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(fieldsOf(r.body), ['definition.git.repository']);
  } finally {
    await off.close();
  }
  const t = await startTenants({ PIER_GIT_ALLOW_LOCAL: 'operator' });
  try {
    const tenant = await t.tenant('acme');
    const opsApp = await app(t.operator, 'ops-app');
    assert.equal((await t.operator('POST', '/v1/services', { app_id: opsApp, name: 'web', definition: gitService('/srv/repo') })).status, 200);
    const r = await tenant.api('POST', '/v1/services', { app_id: await app(tenant.api, 'local-app'), name: 'web', definition: gitService('file:///srv/repo') });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(fieldsOf(r.body), ['definition.git.repository']);
  } finally {
    await t.close();
  }
  const all = await startTenants({ PIER_GIT_ALLOW_LOCAL: '1' });
  try {
    const tenant = await all.tenant('acme');
    const r = await tenant.api('POST', '/v1/services', { app_id: await app(tenant.api, 'local-app'), name: 'web', definition: gitService('file:///srv/repo') });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  } finally {
    await all.close();
  }
});

/** Uploads `body` to a new archive of `api`'s organization; returns the archive id and its upload URL. */
async function archive(api: Api, body: Buffer, upload = true): Promise<{ id: string; url: string }> {
  const created = await api('POST', '/v1/archives', { size: String(body.length) });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const { id, upload_url: url } = created.body.archive;
  if (upload) assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(body) })).status, 200);
  return { id, url };
}

/** Starts a PUT of `first` and resolves once its first bytes are written; `end` sends the rest and gives the status. */
function slowPut(url: string, first: Buffer): Promise<{ end(rest: Buffer): Promise<number> }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let done: (status: number) => void;
    const finished = new Promise<number>((r) => { done = r; });
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(first, () => resolve({ end: (rest) => { req.end(rest); return finished; } }));
  });
}

test('archives: another organization\'s archive id is a 404; an unuploaded one a 400; the upload URL is single-use under concurrency', async () => {
  const t = await startTenants();
  try {
    const victim = await t.tenant('victim');
    const attacker = await t.tenant('attacker');
    const tgz = Buffer.from('not really a tarball, never built here');
    const theirs = await archive(victim.api, tgz);
    const appId = await app(attacker.api, 'thief');
    const def = (id: string) => { const d = webService('/', { archive: { id, buildpack: {} } }); delete d.docker; return d; };
    for (const q of ['', '?dry_run=true']) {
      const r = await attacker.api('POST', `/v1/services${q}`, { app_id: appId, name: 'web', definition: def(theirs.id) });
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.equal(codeOf(r.body), 'unknown_resource');
    }
    assert.equal((await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: def('no-such-archive') })).status, 404);
    const pending = await archive(attacker.api, tgz, false);
    const early = await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: def(pending.id) });
    assert.equal(early.status, 400, JSON.stringify(early.body));
    assert.deepEqual(fieldsOf(early.body), ['definition.archive.id']);
    const mine = await archive(attacker.api, tgz);
    const ok = await attacker.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: def(mine.id) });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    // Nor can an update swap in the victim's archive.
    const upd = await attacker.api('PATCH', `/v1/services/${ok.body.service.id}`, { definition: def(theirs.id) });
    assert.equal(upd.status, 404, JSON.stringify(upd.body));

    // Two uploads overlapping in time: the second is refused while the first is still sending, the first succeeds.
    const overlapped = await archive(attacker.api, Buffer.alloc(64 * 1024), false);
    const first = await slowPut(overlapped.url, Buffer.alloc(1024, 1));
    // Bounded wait until the first upload holds the archive (its claim is in the store), then the second one starts.
    await until('the first upload to claim the archive', async () => (await getArchive(t.pier.store.db, overlapped.id))?.upload_token_hash.startsWith('claimed:') || undefined, 5000);
    const second = await fetch(overlapped.url, { method: 'PUT', body: Buffer.alloc(2048, 2) });
    assert.equal(second.status, 409, await second.text());
    assert.equal(await first.end(Buffer.alloc(1024, 1)), 200);
    assert.equal((await fetch(overlapped.url, { method: 'PUT', body: Buffer.alloc(10, 3) })).status, 409, 'used once, used up');

    // Fired together: exactly one 2xx, every other answer a 409.
    const racing = await archive(attacker.api, Buffer.alloc(4096), false);
    const statuses = await Promise.all(Array.from({ length: 6 }, (_, i) => fetch(racing.url, { method: 'PUT', body: Buffer.alloc(4096, i) }).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s >= 200 && s < 300).length, 1, JSON.stringify(statuses));
    assert.deepEqual(statuses.filter((s) => s >= 300).sort(), Array(5).fill(409), JSON.stringify(statuses));

    // A failed upload (over its size) gives the URL back, so the owner can retry it.
    const retry = await archive(attacker.api, Buffer.alloc(10), false);
    assert.equal((await fetch(retry.url, { method: 'PUT', body: Buffer.alloc(11) })).status, 413);
    assert.equal((await fetch(retry.url, { method: 'PUT', body: Buffer.alloc(10) })).status, 200);
  } finally {
    await t.close();
  }
});

test('webhook secrets: reading never creates one; creating and rotating are writes a read-only token cannot make', async () => {
  const t = await startTenants();
  try {
    const tenant = await t.tenant('acme');
    const svc = (await tenant.api('POST', '/v1/services', {
      app_id: await app(tenant.api, 'hooks'), name: 'web', definition: gitService('https://github.com/o/r.git'),
    })).body.service;
    const ro = (await tenant.api('POST', '/v1/credentials', { name: 'viewer', read_only: true })).body.credential.token as string;
    const { apiClient } = await import('../support/api-client.ts');
    const viewer = apiClient(t.url, ro) as Api;
    const path = `/v1/pier/services/${svc.id}/webhook`;

    const seen = await viewer('GET', path);
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    assert.deepEqual([seen.body.secret, seen.body.secret_exists], [null, false]);
    assert.equal((await tenant.api('GET', path)).body.secret_exists, false, 'the read created nothing');
    for (const p of [path, `${path}/rotate`]) {
      const w = await viewer('POST', p);
      assert.equal(w.status, 403, `${p}: ${JSON.stringify(w.body)}`);
      assert.equal(codeOf(w.body), 'authorization_required');
    }
    assert.equal((await tenant.api('GET', path)).body.secret_exists, false);

    const made = await tenant.api('POST', path);
    assert.match(made.body.secret, /^[0-9a-f]{48}$/);
    const read = await viewer('GET', path);
    assert.deepEqual([read.body.secret, read.body.secret_exists], [null, true], 'a reader learns only that it exists');
  } finally {
    await t.close();
  }
});

test('smaller holes: huge offsets and bad escapes are 400s, NUL in env, route clashes and missing secrets refused at create/update', async () => {
  const t = await startTenants();
  try {
    const a = await t.tenant('acme');
    const b = await t.tenant('other');
    for (const q of ['offset=99999999999999999999', 'limit=99999999999999999999', 'offset=9007199254740993']) {
      const r = await a.api('GET', `/v1/apps?${q}`);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
      assert.deepEqual([codeOf(r.body), fieldsOf(r.body)], ['invalid_argument', [q.split('=')[0]]]);
    }
    for (const path of ['/v1/apps/%ZZ', '/v1/services/%E2', '/v1/deployments/a%']) {
      const r = await a.api('GET', path);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.deepEqual([codeOf(r.body), fieldsOf(r.body)], ['invalid_argument', ['id']]);
    }

    const appId = await app(a.api, 'shop');
    const nul = await a.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: webService('/', { env: [{ key: 'A', value: 'x\u0000y' }] }) });
    assert.equal(nul.status, 400, JSON.stringify(nul.body));
    assert.deepEqual(fieldsOf(nul.body), ['definition.env[0].value']);

    const front = await a.api('POST', '/v1/services', { app_id: appId, name: 'front', definition: webService('/') });
    assert.equal(front.status, 200, JSON.stringify(front.body));
    for (const path of ['/', '//']) {
      const clash = await a.api('POST', '/v1/services', { app_id: appId, name: 'api', definition: webService(path) });
      assert.equal(clash.status, 409, JSON.stringify(clash.body));
      assert.equal(codeOf(clash.body), 'already_exists');
      assert.deepEqual(fieldsOf(clash.body), ['definition.routes[0].path']);
      assert.match(clash.body.fields[0].description, /already served by service front/);
    }
    const api = await a.api('POST', '/v1/services', { app_id: appId, name: 'api', definition: webService('/api') });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    const moved = await a.api('PATCH', `/v1/services/${api.body.service.id}`, { definition: webService('/') });
    assert.equal(moved.status, 409, JSON.stringify(moved.body));
    assert.match(moved.body.fields[0].description, /service front/);
    // Another app's "/" is its own host: no clash; and a service keeps its own route across updates.
    assert.equal((await a.api('POST', '/v1/services', { app_id: await app(a.api, 'blog'), name: 'front', definition: webService('/') })).status, 200);
    assert.equal((await a.api('PATCH', `/v1/services/${front.body.service.id}`, { definition: webService('/', { env: [{ key: 'V', value: '2' }] }) })).status, 200);

    // Secrets: missing, another organization's, the wrong type; refused at create and update, not at start.
    assert.equal((await b.api('POST', '/v1/secrets', { name: 'db', type: 'SIMPLE', value: 'theirs' })).status, 200);
    assert.equal((await a.api('POST', '/v1/secrets', { name: 'reg', type: 'REGISTRY', private_registry: { username: 'u', password: 'p', url: 'r.example.com' } })).status, 200);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ env: [{ key: 'X', secret: 'nope' }] }, 'definition.env[0].secret', /secret "nope" does not exist: create a SIMPLE secret named "nope"/],
      [{ env: [{ key: 'X', secret: 'db' }] }, 'definition.env[0].secret', /secret "db" does not exist/],
      [{ env: [{ key: 'X', value: 'pw={{ secret.nope }}' }] }, 'definition.env[0].value', /\{\{ secret\.nope \}\}.*does not exist/],
      [{ env: [{ key: 'X', secret: 'reg' }] }, 'definition.env[0].secret', /REGISTRY secret: an environment variable needs a SIMPLE secret/],
      [{ docker: { image: 'nginx:1.27', image_registry_secret: 'nope' } }, 'definition.docker.image_registry_secret', /does not exist/],
    ];
    const workerApp = await app(a.api, 'jobs');
    for (const [over, field, why] of cases) {
      const def = webService('/', over);
      const created = await a.api('POST', '/v1/services', { app_id: workerApp, name: 'job', definition: def });
      assert.equal(created.status, 400, `${field}: ${JSON.stringify(created.body)}`);
      assert.deepEqual(fieldsOf(created.body), [field]);
      assert.match(created.body.fields[0].description, why);
      const updated = await a.api('PATCH', `/v1/services/${front.body.service.id}`, { definition: def });
      assert.equal(updated.status, 400, `${field} at update: ${JSON.stringify(updated.body)}`);
    }
    assert.equal((await a.api('POST', '/v1/secrets', { name: 'nope', type: 'SIMPLE', value: 'v' })).status, 200);
    const fixed = await a.api('POST', '/v1/services', { app_id: workerApp, name: 'job', definition: webService('/', { env: [{ key: 'X', value: '{{ secret.nope }}' }, { key: 'Y', secret: 'nope' }] }) });
    assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
  } finally {
    await t.close();
  }
});

test('the settings: PIER_GIT_ALLOW_LOCAL off|operator|all and PIER_ARCHIVE_MAX_EXTRACTED_BYTES, bad values named', async () => {
  const { loadTenantInputs } = await import('../../src/config.ts');
  assert.deepEqual(loadTenantInputs({}), { gitAllowLocal: 'operator' });
  assert.deepEqual(loadTenantInputs({ PIER_GIT_ALLOW_LOCAL: 'off' }), {});
  assert.deepEqual(loadTenantInputs({ PIER_GIT_ALLOW_LOCAL: 'operator' }), { gitAllowLocal: 'operator' });
  assert.deepEqual(loadTenantInputs({ PIER_GIT_ALLOW_LOCAL: '1', PIER_ARCHIVE_MAX_EXTRACTED_BYTES: '2G' }), { gitAllowLocal: 'all', archiveMaxExtractedBytes: 2 * 1024 ** 3 });
  assert.deepEqual(loadTenantInputs({ PIER_ARCHIVE_MAX_EXTRACTED_BYTES: '536870912' }), { gitAllowLocal: 'operator', archiveMaxExtractedBytes: 536870912 });
  assert.throws(() => loadTenantInputs({ PIER_GIT_ALLOW_LOCAL: 'tenants' }), /PIER_GIT_ALLOW_LOCAL must be off, operator or all/);
  assert.throws(() => loadTenantInputs({ PIER_ARCHIVE_MAX_EXTRACTED_BYTES: '0' }), /PIER_ARCHIVE_MAX_EXTRACTED_BYTES must be a positive size/);
  assert.throws(() => loadTenantInputs({ PIER_ARCHIVE_MAX_EXTRACTED_BYTES: 'lots' }), /PIER_ARCHIVE_MAX_EXTRACTED_BYTES/);
});
