import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appHosts, computeRoutes } from '../../src/control/routes.ts';
import type { App, Deployment, Instance, Organization, Service } from '../../src/domain/types.ts';

const org: Organization = { id: 'o1', name: 'Acme', created_at: '', updated_at: '' };
const app = (over: Partial<App> = {}): App => ({
  id: 'a1', name: 'shop', organization_id: 'o1', created_at: '', updated_at: '', started_at: null, succeeded_at: null,
  paused_at: null, resumed_at: null, terminated_at: null, status: 'HEALTHY', messages: [], version: '1', domains: [],
  life_cycle: {}, ...over,
});
const service = (id: string, over: Partial<Service> = {}): Service => ({
  id, created_at: '', updated_at: '', started_at: null, succeeded_at: null, paused_at: null, resumed_at: null,
  terminated_at: null, name: id, type: 'WEB', organization_id: 'o1', app_id: 'a1', status: 'HEALTHY', messages: [],
  version: '1', active_deployment_id: `d-${id}`, latest_deployment_id: `d-${id}`, last_provisioned_deployment_id: '',
  state: {}, life_cycle: {}, ...over,
});
const deployment = (id: string, def: Deployment['definition']): Deployment => ({
  id, created_at: '', updated_at: '', allocated_at: null, started_at: null, succeeded_at: null, terminated_at: null,
  organization_id: 'o1', app_id: 'a1', service_id: '', parent_id: '', child_id: '', status: 'HEALTHY', metadata: {},
  definition: def, messages: [], provisioning_info: { sha: '', image: '', stages: [] }, skip_build: false, role: 'ACTIVE',
  version: '1', deployment_group: '',
});
const instance = (id: string, deploymentId: string, status: Instance['status']): Instance => ({
  id, created_at: '', updated_at: '', organization_id: 'o1', app_id: 'a1', service_id: '', regional_deployment_id: '',
  allocation_id: '', type: 'nano', replica_index: 0, region: 'fra', datacenter: 'fra', hypervisor: '', status,
  messages: [], started_at: null, succeeded_at: null, terminated_at: null, xyz_deployment_id: deploymentId,
});

test('appHosts: <app>-<org>.<domain> plus verified custom domains, lower-case, deduplicated', () => {
  const custom = app({ domains: [
    { name: 'Shop.Example.com', type: 'CUSTOM', verified_at: '2026-01-01T00:00:00.000Z' } as App['domains'][number],
    { name: 'shop-acme.pier.test', type: 'AUTOASSIGNED' } as App['domains'][number],
    // An unverified claim (anyone may claim any name) is never routed.
    { name: 'squatted.example.org', type: 'CUSTOM', verified_at: null } as App['domains'][number],
  ] });
  assert.deepEqual(appHosts(custom, org, 'pier.test'), ['shop-acme.pier.test', 'shop.example.com']);
});

test('computeRoutes: routes of active deployments, healthy upstreams only, private services and workers have none', () => {
  const web = deployment('d-web', {
    ports: [{ port: 8000, protocol: 'http' }, { port: 9000, protocol: 'http2' }],
    routes: [{ port: 8000, path: '/' }, { port: 9000, path: '/grpc', security_policies: { api_keys: ['k1'] } }],
  });
  const priv = deployment('d-priv', { ports: [{ port: 8000 }], routes: [] });
  const worker = deployment('d-jobs', { ports: [], routes: [] });
  const endpoints: Record<string, { containerPort: number; host: string; hostPort: number }[]> = {
    i1: [{ containerPort: 8000, host: '127.0.0.1', hostPort: 31001 }, { containerPort: 9000, host: '127.0.0.1', hostPort: 31002 }],
    i2: [{ containerPort: 8000, host: '127.0.0.1', hostPort: 31003 }],
  };
  const routes = computeRoutes({
    domain: 'pier.test', apps: [app()], organizations: new Map([['o1', org]]),
    services: [service('web'), service('priv'), service('jobs', { type: 'WORKER' })],
    active: new Map([['web', web], ['priv', priv], ['jobs', worker]]),
    instances: new Map([['d-web', [instance('i1', 'd-web', 'HEALTHY'), instance('i2', 'd-web', 'STARTING')]]]),
    endpoints: (id) => endpoints[id],
  });
  assert.equal(routes.length, 1);
  assert.deepEqual(routes[0].hosts, ['shop-acme.pier.test']);
  assert.deepEqual(routes[0].routes.map((r) => [r.path, r.port, r.upstreams.map((u) => `${u.host}:${u.port}/${u.protocol}`)]), [
    ['/grpc', 9000, ['127.0.0.1:31002/http2']],
    ['/', 8000, ['127.0.0.1:31001/http']],
  ]);
  assert.deepEqual(routes[0].routes[0].apiKeys, ['k1']);
  assert.equal(routes[0].routes[1].serviceStatus, 'HEALTHY');
});

test('computeRoutes: a deleting app is not routed; a service with neither an active nor a first deployment has no routes', () => {
  const input = {
    domain: 'd', organizations: new Map([['o1', org]]), services: [service('web', { active_deployment_id: '' })],
    active: new Map(), instances: new Map(), endpoints: () => undefined,
  };
  assert.deepEqual(computeRoutes({ ...input, apps: [app({ status: 'DELETING' })] }), []);
  assert.deepEqual(computeRoutes({ ...input, apps: [app()] })[0].routes, []);
});

test('computeRoutes: healthy instances of a ROLLING deployment replacing the active one serve alongside it', () => {
  const def: Deployment['definition'] = { ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }] };
  const endpoints = (id: string) => [{ containerPort: 8000, host: '127.0.0.1', hostPort: Number(id.slice(1)) + 31000 }];
  const input = {
    domain: 'pier.test', apps: [app()], organizations: new Map([['o1', org]]),
    services: [service('web', { latest_deployment_id: 'd-new' })],
    active: new Map([['web', deployment('d-web', def)]]),
    instances: new Map([
      ['d-web', [instance('i1', 'd-web', 'HEALTHY')]],
      ['d-new', [instance('i2', 'd-new', 'HEALTHY'), instance('i3', 'd-new', 'STARTING')]],
    ]),
    endpoints,
  };
  const ports = (r: ReturnType<typeof computeRoutes>) => r[0].routes[0].upstreams.map((u) => u.port);
  assert.deepEqual(ports(computeRoutes(input)), [31001], 'not rolling: only the active deployment serves');
  assert.deepEqual(ports(computeRoutes({ ...input, upcoming: new Map([['web', deployment('d-new', def)]]) })), [31001, 31002]);
});

test('computeRoutes: before its first promotion a service is routed from its first deployment; requests are held while it starts', () => {
  const def: Deployment['definition'] = { ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }] };
  const endpoints = (id: string) => [{ containerPort: 8000, host: '127.0.0.1', hostPort: Number(id.slice(1)) + 31000 }];
  const first = (status: Deployment['status']) => new Map([['web', { ...deployment('d-first', def), status, role: 'UPCOMING' as Deployment['role'] }]]);
  const input = {
    domain: 'pier.test', apps: [app()], organizations: new Map([['o1', org]]),
    services: [service('web', { status: 'STARTING', active_deployment_id: '', latest_deployment_id: 'd-first' })],
    active: new Map<string, Deployment>(),
    instances: new Map([['d-first', [instance('i1', 'd-first', 'STARTING')]]]),
    endpoints,
  };
  const building = computeRoutes({ ...input, first: first('PROVISIONING') })[0];
  assert.deepEqual(building.routes.map((r) => [r.path, r.serviceStatus, r.upstreams.length]), [['/', 'STARTING', 0]], 'the route is there (503 with the status, never "no route")');
  assert.equal(building.sleeping, undefined, 'a build can take minutes: not held');
  const starting = computeRoutes({ ...input, first: first('STARTING') })[0];
  assert.equal(starting.sleeping, true, 'instances are starting: requests wait for the first one');
  const healthy = computeRoutes({ ...input, first: first('STARTING'), instances: new Map([['d-first', [instance('i1', 'd-first', 'HEALTHY')]]]) })[0];
  assert.deepEqual(healthy.routes[0].upstreams.map((u) => u.port), [31001], 'its first HEALTHY instance serves before the promotion');
});

test('computeRoutes: a service autoscaled on its requests carries the load the edge watches; fixed counts and CPU targets do not', () => {
  const def = (scalings: NonNullable<Deployment['definition']['scalings']>) => ({ ports: [{ port: 8000, protocol: 'http' as const }], routes: [{ port: 8000, path: '/' }], scalings });
  const routes = computeRoutes({
    domain: 'pier.test', apps: [app()], organizations: new Map([['o1', org]]),
    services: [service('rps'), service('conc'), service('fixed'), service('cpu')],
    active: new Map([
      // The most sensitive target of the autoscaled rules, and the most instances any allows.
      ['rps', deployment('d-rps', def([
        { scopes: ['region:fra'], min: 1, max: 3, targets: [{ requests_per_second: { value: 50 } }, { concurrent_requests: { value: 20 } }] },
        { scopes: ['region:was'], min: 2, max: 6, targets: [{ requests_per_second: { value: 30 } }] },
      ]))],
      ['conc', deployment('d-conc', def([{ scopes: [], min: 0, max: 4, targets: [{ concurrent_requests: { value: 8 } }] }]))],
      ['fixed', deployment('d-fixed', def([{ scopes: [], min: 2, max: 2, targets: [{ requests_per_second: { value: 5 } }] }]))],
      ['cpu', deployment('d-cpu', def([{ scopes: [], min: 1, max: 5, targets: [{ average_cpu: { value: 70 } }] }]))],
    ]),
    instances: new Map(),
    endpoints: () => undefined,
  });
  const watch = Object.fromEntries(routes[0]!.routes.map((r) => [r.serviceId, r.loadWatch]));
  assert.deepEqual(watch, {
    rps: { max: 6, inFlight: 20, perSecond: 30 },
    conc: { max: 4, inFlight: 8 },
    fixed: undefined,
    cpu: undefined,
  });
});

test('computeRoutes: a service\'s TCP proxy ports, from its serving deployment\'s metadata, with its healthy instances on the port', () => {
  const def: Deployment['definition'] = { ports: [{ port: 8000, protocol: 'http' }, { port: 5432, protocol: 'tcp' }], routes: [], proxy_ports: [{ port: 5432, protocol: 'tcp' }] };
  const db = { ...deployment('d-db', def), metadata: { proxy_ports: [{ host: 'shop-acme.pier.test', public_port: 20001, port: 5432, protocol: 'tcp' as const }] } };
  const endpoints: Record<string, { containerPort: number; host: string; hostPort: number }[]> = {
    i1: [{ containerPort: 8000, host: '127.0.0.1', hostPort: 31001 }, { containerPort: 5432, host: '127.0.0.1', hostPort: 31002 }],
    i2: [{ containerPort: 5432, host: '127.0.0.1', hostPort: 31004 }],
  };
  const base = {
    domain: 'pier.test', apps: [app()], organizations: new Map([['o1', org]]), active: new Map([['db', db]]),
    instances: new Map([['d-db', [instance('i1', 'd-db', 'HEALTHY'), instance('i2', 'd-db', 'STARTING')]]]),
    endpoints: (id: string) => endpoints[id],
  };
  const [shop] = computeRoutes({ ...base, services: [service('db')] });
  assert.deepEqual(shop!.tcpProxies, [{
    publicPort: 20001, serviceId: 'db', serviceName: 'db', port: 5432,
    upstreams: [{ instanceId: 'i1', host: '127.0.0.1', port: 31002, region: 'fra', protocol: 'http' }],
  }]);
  // A deleting service's ports go with it; an app without any has no tcpProxies at all.
  assert.equal(computeRoutes({ ...base, services: [service('db', { status: 'DELETING' })] })[0]!.tcpProxies, undefined);
});
