import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';

const SRC = { docker: { image: 'nginx' } };
type Want = [string, RegExp][];

function check(input: Record<string, unknown>, want: Want, label = JSON.stringify(input)) {
  const { errors, definition } = normalizeDefinition({ ...SRC, ...input });
  assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), `${label}\n${JSON.stringify(errors, null, 1)}`);
  want.forEach(([, re], i) => assert.match(errors[i]!.description, re, label));
  return definition;
}

test('ports: range, protocol, uniqueness; web needs one', () => {
  const rows: [unknown, Want][] = [
    [undefined, [['definition.ports', /a web service needs at least one port: .*--ports 8000:http/]]],
    [[], [['definition.ports', /needs at least one port/]]],
    [[{ port: 0 }], [['definition.ports[0].port', /must be between 1 and 65535, got 0/]]],
    [[{ port: 65536 }], [['definition.ports[0].port', /must be between 1 and 65535/]]],
    [[{ port: 'http' }], [['definition.ports[0].port', /must be a whole number between 1 and 65535/]]],
    [[{}], [['definition.ports[0].port', /is required: the port your app listens on/]]],
    [[{ port: 80, protocol: 'udp' }], [['definition.ports[0].protocol', /must be http, http2 or tcp, got "udp"/]]],
    [[{ port: 80 }, { port: 80, protocol: 'tcp' }], [['definition.ports[1].port', /port 80 is declared twice/]]],
    [[{ port: 80, name: 'x' }], [['definition.ports[0].name', /unknown field/]]],
  ];
  for (const [ports, want] of rows) check({ ports }, want);
  const def = check({ ports: [{ port: 80 }, { port: 81, protocol: 'http2' }, { port: 5432, protocol: 'tcp' }, { port: 65535 }] }, []);
  assert.deepEqual(def.ports, [
    { port: 80, protocol: 'http' }, { port: 81, protocol: 'http2' }, { port: 5432, protocol: 'tcp' }, { port: 65535, protocol: 'http' },
  ]);
});

test('routes: path form, uniqueness, declared http port, security policies', () => {
  const ports = [{ port: 8000 }, { port: 5432, protocol: 'tcp' }];
  const rows: [unknown, Want][] = [
    [[{ path: 'api', port: 8000 }], [['definition.routes[0].path', /must start with "\/" and contain no spaces/]]],
    [[{ path: '/my api', port: 8000 }], [['definition.routes[0].path', /no spaces/]]],
    [[{ port: 8000 }], [['definition.routes[0].path', /is required: a path prefix/]]],
    [[{ path: '/', port: 8000 }, { path: '/', port: 8000 }], [['definition.routes[1].path', /route \/ is declared twice/]]],
    [[{ path: '/', port: 9000 }], [['definition.routes[0].port', /^route port 9000 is not declared in ports; add \{port: 9000, protocol: 'http'\} to ports$/]]],
    [[{ path: '/', port: 5432 }], [['definition.routes[0].port', /declared as tcp; routes need an http or http2 port/]]],
    [[{ path: '/' }], [['definition.routes[0].port', /is required/]]],
    [[{ path: '/', port: 8000, security_policies: { basic_auths: [{ username: 'a' }] } }],
      [['definition.routes[0].security_policies.basic_auths[0].password', /is required .*secret/]]],
    [[{ path: '/', port: 8000, security_policies: { basic_auths: [{ username: 'a:b', password: 'p' }], api_keys: [''] } }],
      [['definition.routes[0].security_policies.basic_auths[0].username', /must not contain ":"/],
        ['definition.routes[0].security_policies.api_keys[0]', /non-empty string/]]],
  ];
  for (const [routes, want] of rows) check({ ports, routes }, want);
  const def = check({
    ports,
    routes: [
      { path: '/api', port: 8000, security_policies: { api_keys: ['{{ secret.key }}'], basic_auths: [] } },
      { path: '/', port: 8000, security_policies: {} },
    ],
  }, []);
  assert.deepEqual(def.routes, [
    { port: 8000, path: '/api', security_policies: { api_keys: ['{{ secret.key }}'] } },
    { port: 8000, path: '/' },
  ]);
});

test('proxy ports must be declared tcp ports', () => {
  const ports = [{ port: 8000 }, { port: 5432, protocol: 'tcp' }];
  const rows: [unknown, Want][] = [
    [[{ port: 6000 }], [['definition.proxy_ports[0].port', /proxy port 6000 is not declared in ports; add \{port: 6000, protocol: 'tcp'\}/]]],
    [[{ port: 8000 }], [['definition.proxy_ports[0].port', /declared as http; the TCP proxy needs a tcp port/]]],
    [[{ port: 5432, protocol: 'udp' }], [['definition.proxy_ports[0].protocol', /must be tcp/]]],
    [[{ port: 5432 }, { port: 5432 }], [['definition.proxy_ports[1].port', /declared twice/]]],
  ];
  for (const [proxy_ports, want] of rows) check({ ports, proxy_ports }, want);
  assert.deepEqual(check({ ports, proxy_ports: [{ port: 5432 }] }, []).proxy_ports, [{ port: 5432, protocol: 'tcp' }]);
});

test('health checks: one probe, declared port, one per port, bounds and defaults', () => {
  const ports = [{ port: 8000 }, { port: 9000 }];
  const rows: [unknown, Want][] = [
    [[{}], [['definition.health_checks[0]', /must set exactly one of tcp or http/]]],
    [[{ tcp: { port: 8000 }, http: { port: 8000, path: '/' } }], [['definition.health_checks[0]', /exactly one of tcp or http/]]],
    [[{ tcp: { port: 7000 } }], [['definition.health_checks[0].tcp.port', /health check port 7000 is not declared in ports/]]],
    [[{ tcp: { port: 8000 } }, { http: { port: 8000, path: '/' } }], [['definition.health_checks[1].http.port', /already has a health check: keep one check per port/]]],
    [[{ tcp: { port: 8000 }, grace_period: 901 }], [['definition.health_checks[0].grace_period', /between 0 and 900 seconds/]]],
    [[{ tcp: { port: 8000 }, interval: 0 }], [['definition.health_checks[0].interval', /between 1 and 300 seconds/]]],
    [[{ tcp: { port: 8000 }, restart_limit: 11 }], [['definition.health_checks[0].restart_limit', /between 1 and 10/]]],
    [[{ tcp: { port: 8000 }, timeout: 601 }], [['definition.health_checks[0].timeout', /between 1 and 600 seconds/]]],
    [[{ http: { port: 8000, path: 'health' } }], [['definition.health_checks[0].http.path', /must start with "\/"/]]],
    [[{ http: { port: 8000, path: '/', method: 'TRACE' } }], [['definition.health_checks[0].http.method', /must be one of GET, HEAD/]]],
    [[{ http: { port: 8000, path: '/', headers: [{ key: 'bad header', value: 'x' }] } }], [['definition.health_checks[0].http.headers[0]', /valid header name/]]],
  ];
  for (const [health_checks, want] of rows) check({ ports, health_checks }, want);
  const def = check({
    ports,
    health_checks: [{ http: { port: 9000, path: '/healthz', method: 'head', headers: [{ key: 'Host', value: 'x' }] }, grace_period: 0, interval: 10 }],
  }, []);
  assert.equal(JSON.stringify(def.health_checks), JSON.stringify([
    { grace_period: 0, interval: 10, restart_limit: 3, timeout: 5, http: { port: 9000, path: '/healthz', method: 'HEAD', headers: [{ key: 'Host', value: 'x' }] } },
    { grace_period: 5, interval: 30, restart_limit: 3, timeout: 5, tcp: { port: 8000 } },
  ]));
  const defaults = check({ ports: [{ port: 80 }], health_checks: [{ http: { port: 80 } }] }, []);
  assert.deepEqual(defaults.health_checks[0]!.http, { port: 80, path: '/', method: 'GET' });
});

test('workers cannot have ports, routes, proxy ports or health checks', () => {
  const want: Want = [
    ['definition.ports', /^workers cannot have ports: remove ports or make the service a web service/],
    ['definition.routes', /^workers cannot have routes/],
    ['definition.proxy_ports', /^workers cannot have proxy ports/],
    ['definition.health_checks', /^workers cannot have health checks/],
  ];
  check({
    type: 'WORKER', ports: [{ port: 80 }], routes: [{ path: '/', port: 80 }], proxy_ports: [{ port: 80 }], health_checks: [{ tcp: { port: 80 } }],
  }, want);
  const def = check({ type: 'WORKER', ports: [], routes: [] }, []);
  assert.deepEqual(def.health_checks, []);
});
