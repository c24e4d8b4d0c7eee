// TCP proxy ports (Koyeb's proxy_ports): each declared port gets a public port of PIER_TCP_PROXY_PORTS at deploy time,
// shown in the deployment's metadata.proxy_ports; a service keeps its public port across deployments, gives it back
// when its definition drops the port or the service is deleted, and a definition is refused (nothing written) when
// the TCP proxy is off or its range has no free port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { startTestPier, createApp, webDefinition, type TestPier } from './helpers.ts';

let t: TestPier;
before(async () => { t = await startTestPier({ env: { PIER_TCP_PROXY_PORTS: '24000-24001' } }); });
after(async () => { await t.close(); });

const withProxy = (name: string, ports: number[]) => webDefinition({
  ports: [{ port: 8080, protocol: 'http' }, { port: 5432, protocol: 'tcp' }, { port: 6379, protocol: 'tcp' }],
  routes: [{ port: 8080, path: `/${name}` }],
  proxy_ports: ports.map((port) => ({ port, protocol: 'tcp' })),
});

async function proxyPortsOf(serviceId: string): Promise<unknown> {
  const s = (await t.req<any>('GET', `/v1/services/${serviceId}`)).body.service;
  return (await t.req<any>('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment.metadata.proxy_ports;
}

test('proxy_ports get public ports of the range, kept across deployments, released when dropped or deleted', async () => {
  const app = await createApp(t, 'tcp');
  const a = await t.req<any>('POST', '/v1/services', { app_id: app, name: 'db', definition: withProxy('db', [5432]) });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const dbId = a.body.service.id;
  assert.deepEqual(await proxyPortsOf(dbId), [{ host: 'tcp-pier.localhost', public_port: 24000, port: 5432, protocol: 'tcp' }]);

  // An update keeps the public port and adds the next free one for a new port.
  const up = await t.req<any>('PATCH', `/v1/services/${dbId}`, { definition: withProxy('db', [5432, 6379]) });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.deepEqual(await proxyPortsOf(dbId), [
    { host: 'tcp-pier.localhost', public_port: 24000, port: 5432, protocol: 'tcp' },
    { host: 'tcp-pier.localhost', public_port: 24001, port: 6379, protocol: 'tcp' },
  ]);

  // The range is full: another service's proxy port is refused with the field and the fix, and nothing is written.
  const full = await t.req<any>('POST', '/v1/services', { app_id: app, name: 'cache', definition: withProxy('cache', [6379]) });
  assert.equal(full.status, 409, JSON.stringify(full.body));
  assert.equal(errorCodeOf(full.body), 'invalid_state');
  assert.equal(full.body.fields[0].field, 'definition.proxy_ports');
  assert.match(full.body.message, /every public port of the TCP proxy \(24000-24001\) is taken: port 6379 cannot be exposed; remove it from proxy_ports, or ask the operator for a larger PIER_TCP_PROXY_PORTS range/);
  const list = (await t.req<any>('GET', `/v1/services?app_id=${app}`)).body.services.map((s: { name: string }) => s.name);
  assert.deepEqual(list, ['db'], 'the refused service was not created');

  // Dropping a port gives its public port back: the other service now gets it.
  assert.equal((await t.req('PATCH', `/v1/services/${dbId}`, { definition: withProxy('db', [5432]) })).status, 200);
  assert.deepEqual(await proxyPortsOf(dbId), [{ host: 'tcp-pier.localhost', public_port: 24000, port: 5432, protocol: 'tcp' }]);
  const b = await t.req<any>('POST', '/v1/services', { app_id: app, name: 'cache', definition: withProxy('cache', [6379]) });
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.deepEqual(await proxyPortsOf(b.body.service.id), [{ host: 'tcp-pier.localhost', public_port: 24001, port: 6379, protocol: 'tcp' }]);

  // A request's own metadata cannot claim a public port.
  const claim = await t.req<any>('PATCH', `/v1/services/${b.body.service.id}`, {
    definition: withProxy('cache', []), metadata: { proxy_ports: [{ host: 'x', public_port: 24000, port: 6379, protocol: 'tcp' }] },
  });
  assert.equal(claim.status, 200, JSON.stringify(claim.body));
  assert.equal(await proxyPortsOf(b.body.service.id), undefined);

  // Deleting a service releases its public ports.
  assert.equal((await t.req('DELETE', `/v1/services/${dbId}`)).status, 200);
  const c = await t.req<any>('POST', '/v1/services', { app_id: app, name: 'pg', definition: withProxy('pg', [5432, 6379]) });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.deepEqual((await proxyPortsOf(c.body.service.id) as { public_port: number }[]).map((p) => p.public_port), [24000, 24001]);
});

test('with the TCP proxy off, proxy_ports are refused naming the field', async () => {
  const off = await startTestPier({ env: { PIER_TCP_PROXY_PORTS: 'off' } });
  try {
    const app = (await off.req<any>('POST', '/v1/apps', { name: 'tcpoff' })).body.app.id;
    const r = await off.req<any>('POST', '/v1/services', { app_id: app, name: 'db', definition: withProxy('db', [5432]) });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.fields[0].field, 'definition.proxy_ports');
    assert.match(r.body.message, /The TCP proxy is off on this Pier \(PIER_TCP_PROXY_PORTS=off\): remove proxy_ports/);
    // Without proxy_ports the same definition is fine.
    assert.equal((await off.req('POST', '/v1/services', { app_id: app, name: 'db', definition: withProxy('db', []) })).status, 200);
  } finally {
    await off.close();
  }
});

test('another organization cannot read, take, move or free a service\'s public TCP port', async () => {
  const own = await startTestPier({ env: { PIER_TCP_PROXY_PORTS: '24100-24102' } });
  try {
    const app = (await own.req<any>('POST', '/v1/apps', { name: 'mine' })).body.app.id;
    const mine = await own.req<any>('POST', '/v1/services', { app_id: app, name: 'db', definition: withProxy('db', [5432]) });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    const svcId = mine.body.service.id;
    const depId = mine.body.service.latest_deployment_id;
    const other = await own.otherOrgToken();
    // Reading the deployment (and so its public port) or changing, redeploying or deleting the service: 404 for them.
    assert.equal((await own.req('GET', `/v1/deployments/${depId}`, undefined, other)).status, 404);
    assert.equal((await own.req('PATCH', `/v1/services/${svcId}`, { definition: withProxy('db', [5432, 6379]) }, other)).status, 404);
    assert.equal((await own.req('POST', `/v1/services/${svcId}/redeploy`, {}, other)).status, 404);
    assert.equal((await own.req('DELETE', `/v1/services/${svcId}`, undefined, other)).status, 404);
    // Their own service, claiming the public port in its metadata: it gets the next free one, never ours.
    const theirApp = (await own.req<any>('POST', '/v1/apps', { name: 'theirs' }, other)).body.app.id;
    const theirs = await own.req<any>('POST', '/v1/services', {
      app_id: theirApp, name: 'db', definition: withProxy('db', [5432]),
      metadata: { proxy_ports: [{ host: 'mine-pier.localhost', public_port: 24100, port: 5432, protocol: 'tcp' }] },
    }, other);
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
    const theirDep = (await own.req<any>('GET', `/v1/deployments/${theirs.body.service.latest_deployment_id}`, undefined, other)).body.deployment;
    assert.deepEqual(theirDep.metadata.proxy_ports.map((p: { public_port: number }) => p.public_port), [24101]);
    // Ours is untouched.
    const ours = (await own.req<any>('GET', `/v1/deployments/${depId}`)).body.deployment;
    assert.deepEqual(ours.metadata.proxy_ports, [{ host: 'mine-pier.localhost', public_port: 24100, port: 5432, protocol: 'tcp' }]);
  } finally {
    await own.close();
  }
});

test('the proxy_ports quota bounds the public ports an organization holds, so one tenant cannot take the range', async () => {
  const own = await startTestPier({ env: { PIER_TCP_PROXY_PORTS: '24200-24209' } });
  try {
    const other = await own.otherOrgToken();
    const otherOrg = (await own.req<any>('GET', '/v1/account/organization', undefined, other)).body.organization.id;
    const set = await own.req<any>('PUT', `/v1/pier/organizations/${otherOrg}/quotas`, { quotas: { proxy_ports: 2 } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    // Koyeb's spec types this quota as an integer (the counts beside it are int64 strings).
    assert.equal(set.body.quotas.proxy_ports, 2);
    const read = await own.req<any>('GET', `/v1/organizations/${otherOrg}/quotas`, undefined, other);
    assert.equal(read.body.quotas.proxy_ports, 2);

    const app = (await own.req<any>('POST', '/v1/apps', { name: 'greedy' }, other)).body.app.id;
    const a = await own.req<any>('POST', '/v1/services', { app_id: app, name: 'sa', definition: withProxy('sa', [5432]) }, other);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    // A second service asking for two more: 3 > 2, refused naming the quota, and nothing written.
    const b = await own.req<any>('POST', '/v1/services', { app_id: app, name: 'sb', definition: withProxy('sb', [5432, 6379]) }, other);
    assert.equal(b.status, 403, JSON.stringify(b.body));
    assert.equal(errorCodeOf(b.body), 'quota_exceeded');
    assert.equal(b.body.fields[0].field, 'quotas.proxy_ports');
    assert.match(b.body.message, /quota proxy_ports exceeded: this would make 3 public TCP proxy ports, the limit is 2/);
    const names = (await own.req<any>('GET', `/v1/services?app_id=${app}`, undefined, other)).body.services.map((s: { name: string }) => s.name);
    assert.deepEqual(names, ['sa'], 'the refused service was not created');
    // An update of the first service adding a port is refused too; keeping or moving its ports within the quota is not.
    const grow = await own.req<any>('PATCH', `/v1/services/${a.body.service.id}`, { definition: withProxy('sa', [5432, 6379]) }, other);
    assert.equal(grow.status, 200, JSON.stringify(grow.body));
    const more = await own.req<any>('POST', '/v1/services', { app_id: app, name: 'sc', definition: withProxy('sc', [6379]) }, other);
    assert.equal(more.status, 403, JSON.stringify(more.body));
    assert.equal((await own.req('PATCH', `/v1/services/${a.body.service.id}`, { definition: withProxy('sa', [6379]) }, other)).status, 200);
    const c = await own.req<any>('POST', '/v1/services', { app_id: app, name: 'sc', definition: withProxy('sc', [5432]) }, other);
    assert.equal(c.status, 200, JSON.stringify(c.body));

    // The organization without that quota still gets the rest of the range.
    const mine = (await own.req<any>('POST', '/v1/apps', { name: 'mine' })).body.app.id;
    const ours = await own.req<any>('POST', '/v1/services', { app_id: mine, name: 'db', definition: withProxy('db', [5432, 6379]) });
    assert.equal(ours.status, 200, JSON.stringify(ours.body));

    // A bad quota names the field and the fix.
    const bad = await own.req<any>('PUT', `/v1/pier/organizations/${otherOrg}/quotas`, { quotas: { proxy_ports: -1 } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.fields[0].field, 'quotas.proxy_ports');
  } finally {
    await own.close();
  }
});
