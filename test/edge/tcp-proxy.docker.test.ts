// The TCP proxy through a real Pier (Docker runtime): a service's proxy_ports get a public port at deploy time
// (metadata.proxy_ports) and Pier's TCP proxy on the edge's host splices its connections to the service's instance;
// a redeploy keeps the public port and the new instance serves it; a deleted service's port stops listening.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { freePort } from '../support/ports.ts';
import { engineUp, startEdgePier, until, webDef, type EdgePier } from './harness.ts';

const skip = engineUp ? false : 'no Docker engine (bash scripts/setup-host.sh starts one)';
let p: EdgePier;
let publicPort: number;

before(async () => {
  if (skip) return;
  publicPort = await freePort();
  process.env.PIER_TCP_PROXY_PORTS = `${publicPort}-${publicPort}`;
  try {
    p = await startEdgePier();
  } finally {
    delete process.env.PIER_TCP_PROXY_PORTS;
  }
});
after(async () => { await p?.close(); });

/** One HTTP/1.0 exchange over a raw TCP connection to `port` (the app speaks HTTP; the proxy only sees bytes). */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => c.destroy(), 5000);
    c.on('connect', () => c.write(`GET ${path} HTTP/1.0\r\nHost: x\r\n\r\n`));
    c.on('data', (d) => { got += d; });
    c.on('error', () => {});
    c.on('close', () => { clearTimeout(t); resolve(got); });
  });
}

test('a service\'s proxy port is served through the TCP proxy, kept across a redeploy, and closed with the service', { skip, timeout: 180_000 }, async () => {
  const appId = await p.createApp('tcp');
  const def = webDef(p.image, null, { ports: [{ port: 8000, protocol: 'tcp' }], proxy_ports: [{ port: 8000, protocol: 'tcp' }] });
  const svc = await p.createService(appId, 'db', def);
  const metadata = async () => {
    const s = await p.service(svc.id);
    return (await p.api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment.metadata.proxy_ports;
  };
  assert.deepEqual(await metadata(), [{ host: p.hostOf('tcp'), public_port: publicPort, port: 8000, protocol: 'tcp' }]);
  const first = await until('served through the TCP proxy', async () => {
    const r = await rawGet(publicPort, '/health');
    return /^HTTP\/1\.[01] 200/.test(r) && /ok/.test(r) ? r : undefined;
  }, 120_000, 250);
  assert.match(first, /\r\n\r\nok/);

  // A redeploy: the same public port, served by the new instance once the old one is gone.
  const oldIds = (await p.instances(svc.id, 'HEALTHY')).map((i: { id: string }) => i.id);
  assert.equal((await p.api('POST', `/v1/services/${svc.id}/redeploy`, {})).status, 200);
  await until('the new deployment serves alone', async () => {
    const live = (await p.instances(svc.id)).filter((i: { status: string }) => i.status !== 'STOPPED');
    return live.length === 1 && live[0].status === 'HEALTHY' && !oldIds.includes(live[0].id);
  }, 120_000, 250);
  assert.deepEqual(await metadata(), [{ host: p.hostOf('tcp'), public_port: publicPort, port: 8000, protocol: 'tcp' }]);
  await until('served again after the redeploy', async () => /ok/.test(await rawGet(publicPort, '/health')), 30_000, 250);

  // Deleting the service: the public port stops listening.
  assert.equal((await p.api('DELETE', `/v1/services/${svc.id}`)).status, 200);
  await until('the public port closed', async () => new Promise<boolean>((r) => {
    const c = connect(publicPort, '127.0.0.1');
    c.on('connect', () => { c.destroy(); r(false); });
    c.on('error', () => r(true));
  }), 60_000, 250);
});

test('an open TCP proxy connection keeps a min-0 service awake; it sleeps after the idle delay once the connection closes', { skip, timeout: 180_000 }, async () => {
  const appId = await p.createApp('tcpidle');
  const def = webDef(p.image, null, {
    ports: [{ port: 8000, protocol: 'tcp' }], proxy_ports: [{ port: 8000, protocol: 'tcp' }],
    scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 3 } }] }],
  });
  const svc = await p.createService(appId, 'pg', def);
  await until('served through the TCP proxy', async () => /ok/.test(await rawGet(publicPort, '/health')), 120_000, 250);
  const statusOf = async () => (await p.instances(svc.id)).map((i: { status: string }) => i.status).filter((x: string) => x !== 'STOPPED').join(',');

  // A client holds a connection for 9 s (three idle delays) without an HTTP request through the edge.
  const held = connect(publicPort, '127.0.0.1');
  let heldClosed = false;
  held.on('close', () => { heldClosed = true; });
  held.on('error', () => {});
  await new Promise((r) => held.once('connect', r));
  const seen = new Set<string>();
  for (let i = 0; i < 18; i++) {
    seen.add(await statusOf());
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual([...seen], ['HEALTHY'], 'awake all along under the open connection');
  assert.equal(heldClosed, false, 'the connection stayed open');

  // Closed: the service sleeps after its idle delay.
  held.destroy();
  await until('asleep after the connection closed', async () => (await statusOf()) === 'SLEEPING', 60_000, 250);
  assert.equal((await p.api('DELETE', `/v1/services/${svc.id}`)).status, 200);
});
