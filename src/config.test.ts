import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError, DEFAULT_STARTUP_CPU_BOOST, startupCpuBoost } from './config.ts';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

test('defaults', () => {
  const c = loadConfig({}, { HOME: '/home/u' });
  assert.deepEqual(c, {
    buildPackages: {},
    dataDir: '/home/u/.pier', apiAddr: { host: '127.0.0.1', port: 7700 }, edgeAddr: { host: '127.0.0.1', port: 8000 },
    domain: 'localhost', token: undefined, runtime: 'auto', orgName: 'pier', masterKeyFile: undefined, gitAllowLocal: 'operator',
    tlsAddr: { host: '127.0.0.1', port: 8443 }, acme: undefined, dnsResolver: undefined, skipDnsCheck: false,
    // No PATH here, so no haproxy: the default (auto) resolves to the Node edge.
    edgeDataplane: 'node', edgeDataplaneAuto: true,
    tcpProxyPorts: { first: 20000, last: 20999 },
  });
});

test('PIER_TCP_PROXY_PORTS: a range, off, or an error naming the fix', () => {
  assert.deepEqual(loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_PORTS: '30000 - 30009' }).tcpProxyPorts, { first: 30000, last: 30009 });
  assert.equal(loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_PORTS: 'off' }).tcpProxyPorts, undefined);
  for (const bad of ['30000', '80-90', '30010-30000', '60000-70000', 'a-b']) {
    assert.throws(() => loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_PORTS: bad }),
      (e: Error) => e instanceof ConfigError && /^PIER_TCP_PROXY_PORTS must be a port range such as 20000-20999 \(ports 1024-65535, first <= last\), or off/.test(e.message), bad);
  }
});

test('PIER_TCP_PROXY_IDLE_TIMEOUT and PIER_TCP_PROXY_MAX_CONNECTIONS: set only when given, errors naming the fix', () => {
  assert.equal(loadConfig({}, { HOME: '/h' }).tcpProxyLimits, undefined);
  assert.deepEqual(loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_IDLE_TIMEOUT: '30m', PIER_TCP_PROXY_MAX_CONNECTIONS: '200' }).tcpProxyLimits,
    { idleTimeoutMs: 1_800_000, maxConnectionsPerPort: 200 });
  assert.deepEqual(loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_IDLE_TIMEOUT: 'off' }).tcpProxyLimits, { idleTimeoutMs: 0 });
  for (const bad of ['soon', '-1', '1h30']) {
    assert.throws(() => loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_IDLE_TIMEOUT: bad }),
      (e: Error) => e instanceof ConfigError && /^PIER_TCP_PROXY_IDLE_TIMEOUT must be a duration such as 30m or 1h \(at least 1s\), or 0\/off/.test(e.message), bad);
  }
  for (const bad of ['0', 'many', '2000000', '1.5']) {
    assert.throws(() => loadConfig({}, { HOME: '/h', PIER_TCP_PROXY_MAX_CONNECTIONS: bad }),
      (e: Error) => e instanceof ConfigError && /^PIER_TCP_PROXY_MAX_CONNECTIONS must be a whole number of connections per public port from 1 to 1000000/.test(e.message), bad);
  }
});

test('flags beat environment variables', () => {
  const c = loadConfig({ 'api-addr': '[::1]:0', runtime: 'process' }, { PIER_API_ADDR: '0.0.0.0:1', PIER_RUNTIME: 'docker', PIER_DOMAIN: 'pier.test', HOME: '/h' });
  assert.deepEqual(c.apiAddr, { host: '::1', port: 0 });
  assert.equal(c.runtime, 'process');
  assert.equal(c.domain, 'pier.test');
});

test('bad values name the flag or variable and the fix', () => {
  assert.throws(() => loadConfig({}, { PIER_API_ADDR: 'localhost', HOME: '/h' }), (e: Error) => e instanceof ConfigError && /PIER_API_ADDR must be host:port/.test(e.message));
  assert.throws(() => loadConfig({ runtime: 'vm' }, { HOME: '/h' }), /--runtime must be docker, gvisor, microvm, process, swarm or auto/);
  assert.throws(() => loadConfig({}, { PIER_TOKEN: 'short', HOME: '/h' }), /PIER_TOKEN must be at least 16 characters/);
  assert.throws(() => loadConfig({}, { PIER_DOMAIN: 'bad domain', HOME: '/h' }), /PIER_DOMAIN must be a DNS name/);
  assert.throws(() => loadConfig({ 'edge-addr': '1.2.3.4:70000' }, { HOME: '/h' }), /--edge-addr must be host:port/);
  assert.throws(() => loadConfig({ 'data-dir': true }, { HOME: '/h' }), /--data-dir needs a value/);
});

test('TLS, ACME and DNS settings', () => {
  const c = loadConfig({ 'edge-addr': '127.0.0.1:0' }, {
    HOME: '/h', PIER_ACME_DIRECTORY: 'https://127.0.0.1:14000/dir', PIER_ACME_EMAIL: 'ops@example.com',
    PIER_DNS_RESOLVER: '127.0.0.1:5353', PIER_DOMAINS_SKIP_DNS_CHECK: '1',
  });
  assert.deepEqual(c.tlsAddr, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(c.acme, { directoryUrl: 'https://127.0.0.1:14000/dir', email: 'ops@example.com', caFile: undefined });
  assert.equal(c.dnsResolver, '127.0.0.1:5353');
  assert.equal(c.skipDnsCheck, true);
  assert.equal(loadConfig({ 'tls-addr': 'off' }, { HOME: '/h' }).tlsAddr, undefined);
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_ACME_DIRECTORY: 'letsencrypt' }), /PIER_ACME_DIRECTORY must be an ACME directory URL/);
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_ACME_EMAIL: 'nope' }), /PIER_ACME_EMAIL must be an email address/);
});

test('tuning of the wired parts is read here, once, and only when set', () => {
  const none = loadConfig({}, { HOME: '/h' });
  for (const k of ['edgeWorkers', 'autoscale', 'rateLimit', 'metrics', 'swarm', 'processNetwork'] as const) assert.equal(none[k], undefined, k);
  const c = loadConfig({}, {
    HOME: '/h', PIER_EDGE_WORKERS: '3', PIER_AUTOSCALE_TICK_MS: '250', PIER_API_RATE_LIMIT: '5/20', PIER_METRICS_INTERVAL: '2s',
    PIER_PROCESS_NETWORK: 'Host', PIER_PROCESS_SUBNET: '10.99.0.0/16', PIER_PROCESS_EGRESS: '1',
  });
  assert.equal(c.edgeWorkers, 3);
  assert.equal(c.autoscale?.tickMs, 250);
  assert.deepEqual(c.rateLimit, { ratePerSecond: 5, burst: 20 });
  assert.deepEqual(c.metrics, { intervalMs: 2000 });
  assert.deepEqual(c.processNetwork, { mode: 'host', pool: '10.99.0.0/16', egress: true });
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_EDGE_WORKERS: '0' }), /PIER_EDGE_WORKERS must be a whole number from 1 to 64/);
  // Unset is auto: without haproxy on PATH (none has no PATH) the Node edge, chosen, not named.
  assert.equal(none.edgeDataplane, 'node');
  assert.equal(none.edgeDataplaneAuto, true);
  assert.equal(loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'haproxy' }).edgeDataplane, 'haproxy');
  assert.equal(loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'haproxy' }).edgeDataplaneAuto, undefined);
  assert.equal(loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'node' }).edgeDataplane, 'node');
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'envoy' }), /PIER_EDGE_DATAPLANE must be node, haproxy or auto/);
  // auto: haproxy when an executable haproxy is on PATH, else node.
  const bin = mkdtempSync(join(tmpdir(), 'pier-path-'));
  try {
    assert.equal(loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'auto', PATH: `/nonexistent:${bin}` }).edgeDataplane, 'node');
    writeFileSync(join(bin, 'haproxy'), '#!/bin/sh\n', { mode: 0o644 });
    assert.equal(loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'auto', PATH: bin }).edgeDataplane, 'node', 'not executable');
    chmodSync(join(bin, 'haproxy'), 0o755);
    assert.equal(loadConfig({}, { HOME: '/h', PIER_EDGE_DATAPLANE: 'auto', PATH: `/nonexistent:${bin}` }).edgeDataplane, 'haproxy');
    // The default where haproxy is installed: HAProxy, unless node is named.
    assert.equal(loadConfig({}, { HOME: '/h', PATH: bin }).edgeDataplane, 'haproxy');
    assert.equal(loadConfig({}, { HOME: '/h', PATH: bin, PIER_EDGE_DATAPLANE: '' }).edgeDataplane, 'haproxy');
    assert.equal(loadConfig({}, { HOME: '/h', PATH: bin, PIER_EDGE_DATAPLANE: 'node' }).edgeDataplane, 'node');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_METRICS_RETENTION: '10s' }), /PIER_METRICS_RETENTION must be a duration/);
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_PROCESS_NETWORK: 'bridge' }), /PIER_PROCESS_NETWORK must be auto, isolated or host/);
  assert.throws(() => loadConfig({}, { HOME: '/h', PIER_DOCKER_NETNS_HOLDERS: 'maybe' }), /PIER_DOCKER_NETNS_HOLDERS must be 1 or 0/);
  assert.equal(loadConfig({}, { HOME: '/h', PIER_DOCKER_NETNS_HOLDERS: '0' }).dockerNetnsHolders, false);
  assert.equal(loadConfig({}, { HOME: '/h' }).dockerNetnsHolders, undefined);
  for (const bad of ['many', '-1', '17', '1.5']) {
    assert.throws(() => loadConfig({}, { HOME: '/h', PIER_DOCKER_HOLDER_POOL: bad }), /PIER_DOCKER_HOLDER_POOL must be a whole number of network holders from 0 \(none\) to 16/, bad);
  }
  assert.equal(loadConfig({}, { HOME: '/h', PIER_DOCKER_HOLDER_POOL: '0' }).dockerHolderPool, 0);
  assert.equal(loadConfig({}, { HOME: '/h' }).dockerHolderPool, undefined);
  for (const bad of ['fast', '-1', '65', 'Infinity']) {
    assert.throws(() => loadConfig({}, { HOME: '/h', PIER_STARTUP_CPU_BOOST: bad }), /PIER_STARTUP_CPU_BOOST must be a number of vCPUs from 0 \(no boost\) to 64/, bad);
  }
  assert.equal(loadConfig({}, { HOME: '/h', PIER_STARTUP_CPU_BOOST: '0' }).startupCpuBoost, 0);
  assert.equal(loadConfig({}, { HOME: '/h', PIER_STARTUP_CPU_BOOST: '0.5' }).startupCpuBoost, 0.5);
  assert.equal(loadConfig({}, { HOME: '/h' }).startupCpuBoost, undefined);
  // The boost a host gives: the default when unset, never more than its cores.
  assert.equal(startupCpuBoost(undefined), Math.min(DEFAULT_STARTUP_CPU_BOOST, availableParallelism()));
  assert.equal(startupCpuBoost(0), 0);
  assert.equal(startupCpuBoost(64), availableParallelism());
  assert.throws(() => loadConfig({ runtime: 'swarm' }, { HOME: '/h' }), /PIER_RUNTIME=swarm needs PIER_SWARM_HOST/);
  assert.deepEqual(loadConfig({ runtime: 'swarm' }, { HOME: '/h', PIER_SWARM_HOST: 'unix:///run/s.sock' }).swarm, { socketPath: '/run/s.sock' });
});

test('PIER_EXEC_*: exec session bounds, only those set, bad values named', () => {
  assert.equal(loadConfig({}, {}).exec, undefined);
  assert.deepEqual(loadConfig({}, { PIER_EXEC_IDLE_TIMEOUT: '30s', PIER_EXEC_MAX_SESSIONS: '0' }).exec, { idleTimeoutMs: 30_000, maxSessionsPerOrg: 0 });
  assert.deepEqual(loadConfig({}, { PIER_EXEC_MAX_FRAME_BYTES: '65536' }).exec, { maxFrameBytes: 65_536 });
  assert.throws(() => loadConfig({}, { PIER_EXEC_MAX_SESSIONS: 'many' }), (e: unknown) => e instanceof ConfigError && /PIER_EXEC_MAX_SESSIONS must be a whole number from 0/.test(e.message));
  assert.throws(() => loadConfig({}, { PIER_EXEC_IDLE_TIMEOUT: '10' }), (e: unknown) => e instanceof ConfigError && /PIER_EXEC_IDLE_TIMEOUT must be a duration/.test(e.message));
  assert.throws(() => loadConfig({}, { PIER_EXEC_MAX_FRAME_BYTES: '10' }), /PIER_EXEC_MAX_FRAME_BYTES must be a whole number from 1024/);
});
