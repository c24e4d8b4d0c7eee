// A whole Pier (startPier, the real edge with its TLS listener) with pebble as its ACME server: an app host gets a
// local-CA certificate, a custom domain gets an ACME certificate once its CNAME is right, the edge presents each by
// SNI, and `pier.https_redirect` sends plain HTTP to HTTPS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { localCaDir } from '../../src/certs/index.ts';
import { loadOrCreateLocalCa } from '../../src/certs/local-ca.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';
import { startTestDns, type TestDns } from './support/dns-server.ts';
import { pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';
import { freePort } from '../support/ports.ts';

const skip = pebbleMissing();
const TOKEN = 'domains-pier-test-token-0123456789';
let dir: string;
let pier: PierHandle;
let dns: TestDns;
let pebble: Pebble | undefined;
let api: ReturnType<typeof apiClient>;
let tlsUrl: URL;
let edgeUrl: URL;

/** The certificate the edge presents for `servername` (verified against `ca` when given), or the handshake error. */
function peer(servername: string, ca?: string): Promise<{ cert?: PeerCertificate; error?: string }> {
  return new Promise((resolve) => {
    const sock = connect({ host: tlsUrl.hostname, port: Number(tlsUrl.port), servername, ca, rejectUnauthorized: ca !== undefined }, () => {
      const cert = sock.getPeerCertificate();
      sock.destroy();
      resolve({ cert });
    });
    sock.setTimeout(5000, () => { sock.destroy(); resolve({ error: 'timeout' }); });
    sock.once('error', (e: Error & { code?: string }) => resolve({ error: e.code ?? e.message }));
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pier-domains-e2e-'));
  dns = await startTestDns();
  // Pebble's own TLS root and port are known before Pier starts; pebble itself starts once the edge port is known.
  const pebbleCa = await loadOrCreateLocalCa(join(dir, 'pebble-tls-ca'));
  const pebblePort = await freePort();
  pier = await startPier(loadConfig({ 'data-dir': join(dir, 'pier'), 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, {
    ...process.env, PIER_TOKEN: TOKEN, PIER_ACME_DIRECTORY: `https://127.0.0.1:${pebblePort}/dir`, PIER_ACME_CA_FILE: pebbleCa.rootPath,
    PIER_ACME_EMAIL: 'ops@example.com', PIER_DNS_RESOLVER: dns.addr, PIER_EDGE_WORKERS: '2',
  }), { log: () => undefined });
  api = apiClient(pier.apiUrl, TOKEN);
  const info = (await api('GET', '/v1/pier/info')).body;
  edgeUrl = new URL(info.edge_url);
  tlsUrl = new URL(info.edge_tls_url);
  pebble = await startPebble({ dir, httpPort: Number(edgeUrl.port), dnsAddr: dns.addr, port: pebblePort });
});

after(async () => {
  await pier?.close();
  await pebble?.close();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('local CA for app hosts, ACME for custom domains, chosen by SNI; https redirect per app', { skip: skip ?? false, timeout: 180_000 }, async () => {
  const root = readFileSync(join(localCaDir(join(dir, 'pier')), 'root.pem'), 'utf8');
  const app = (await api('POST', '/v1/apps', { name: 'web' })).body.app;

  // The app's host: a certificate from Pier's local CA that verifies against its root.
  const local = await until('local-CA certificate for web-pier.localhost', async () => (await peer('web-pier.localhost', root)).cert, 30_000);
  assert.equal(local.subjectaltname, 'DNS:web-pier.localhost');
  assert.match(String(local.issuer.CN ?? ''), /^Pier local CA/);

  // A custom domain: PENDING with the record to set until DNS agrees, then ACTIVE with pebble's certificate.
  dns.a.set('www.example.com', '127.0.0.2');
  const d = (await api('POST', '/v1/domains', { name: 'www.example.com', app_id: app.id })).body.domain;
  const pending = await until('DNS mismatch message', async () => {
    const got = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
    return got.messages.some((m: string) => m.startsWith('DNS check:')) && got;
  }, 30_000);
  assert.equal(pending.status, 'PENDING');
  assert.equal(pending.messages[0], 'Set a DNS record: CNAME www.example.com → web-pier.localhost');
  dns.cnames.set('www.example.com', 'web-pier.localhost');
  dns.a.delete('www.example.com');
  await api('POST', `/v1/domains/${d.id}/refresh`);
  const active = await until('domain ACTIVE', async () => {
    const got = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
    return got.status === 'ACTIVE' && got;
  }, 90_000, 250);
  assert.match(active.messages[0], /^Certificate from Pebble Intermediate CA/);

  const acme = await until('ACME certificate served', async () => {
    const { cert } = await peer('www.example.com');
    return cert?.subjectaltname === 'DNS:www.example.com' && cert;
  }, 30_000);
  assert.match(String(acme.issuer.CN ?? ''), /Pebble Intermediate CA/);
  // Each SNI gets its own certificate; the app host still gets the local one.
  assert.equal((await peer('web-pier.localhost', root)).cert?.subjectaltname, 'DNS:web-pier.localhost');
  // An unknown name never gets another app's certificate.
  const unknown = await peer('nobody.example.org');
  assert.ok(unknown.error || !/example\.com|web-pier/.test(unknown.cert?.subjectaltname ?? ''), JSON.stringify(unknown));

  // https_redirect: plain HTTP answers 308 to the same URL on the TLS listener.
  await api('PATCH', `/v1/apps/${app.id}`, { pier: { https_redirect: true } });
  const location = await until('308 to https', () => new Promise<string | false>((resolve) => {
    http.get({ host: edgeUrl.hostname, port: edgeUrl.port, path: '/x?y=1', headers: { host: 'www.example.com' } }, (res) => {
      res.resume();
      resolve(res.statusCode === 308 ? String(res.headers.location) : false);
    }).on('error', () => resolve(false));
  }), 30_000);
  assert.match(location, /^https:\/\/www\.example\.com(:\d+)?\/x\?y=1$/);
});
