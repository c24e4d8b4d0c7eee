import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentDefinition } from '../../src/domain/types.ts';
import { applyDefinitionFlags, rescope, type DefinitionFlags } from '../../src/cli/definition-flags.ts';

const files: Record<string, string> = { './app.yaml': 'port: 1\n' };
const readFile = (p: string): string => {
  const c = files[p];
  if (c === undefined) throw new Error('ENOENT: no such file');
  return c;
};
const apply = (base: DeploymentDefinition, flags: DefinitionFlags) => applyDefinitionFlags(base, flags, readFile);
const create = (flags: DefinitionFlags) => apply({}, flags).definition;

/** A definition as create would build it for `--docker nginx`. */
const BASE: DeploymentDefinition = {
  type: 'WEB',
  env: [],
  instance_types: [{ type: 'nano', scopes: ['region:was'] }],
  ports: [{ port: 8000, protocol: 'http' }],
  routes: [{ path: '/', port: 8000 }],
  scalings: [{ min: 1, max: 1, targets: [], scopes: ['region:was'] }],
  health_checks: [],
  regions: ['was'],
  docker: { image: 'nginx' },
};

test('create defaults: web, region was, nano, scale 1, 8000:http routed at /', () => {
  assert.deepEqual(apply({}, { docker: 'nginx' }), { definition: BASE, warnings: [] });
});

test('applying no flags to a built definition changes nothing (update is idempotent)', () => {
  assert.deepEqual(apply(BASE, {}).definition, BASE);
  const rich = create({
    docker: 'nginx', env: ['A=1', 'S=@sec'], ports: ['80', '9090:tcp'], checks: ['80:http:/health'], minScale: 0, maxScale: 3,
    autoscalingRequestsPerSecond: 50, lightSleepDelay: '5m', regions: ['fra', 'was'],
  });
  assert.deepEqual(apply(rich, {}).definition, rich);
});

test('the base definition is never mutated', () => {
  const base = structuredClone(BASE);
  apply(base, { env: ['X=1'], ports: ['80'], regions: ['fra'], scale: 2 });
  assert.deepEqual(base, BASE);
});

test('--type: web or worker, case-insensitive; anything else is an error', () => {
  assert.equal(create({ docker: 'x', type: 'worker' }).type, 'WORKER');
  assert.equal(create({ docker: 'x', type: 'WEB' }).type, 'WEB');
  assert.throws(() => create({ docker: 'x', type: 'database' }), /--type must be "web" or "worker"/);
});

test('workers get no default ports or routes, and reject ports, routes and checks', () => {
  const w = create({ docker: 'x', type: 'worker' });
  assert.deepEqual([w.ports, w.routes, w.health_checks], [[], [], []]);
  assert.throws(() => create({ docker: 'x', type: 'worker', ports: ['80'] }), /worker service cannot expose ports.*--ports '!80'/);
  assert.throws(() => create({ docker: 'x', type: 'worker', routes: ['/:80'] }), /cannot expose ports|cannot have routes/);
  assert.throws(() => apply(BASE, { type: 'worker' }), /--ports '!8000'/);
  const ok = apply(BASE, { type: 'worker', ports: ['!8000'], routes: ['!/'] }).definition;
  assert.deepEqual([ok.type, ok.ports, ok.routes], ['WORKER', [], []]);
});

test('ports and routes defaults and ambiguities (koyeb setDefaultPortsAndRoutes)', () => {
  const rows: { name: string; flags: DefinitionFlags; ports?: unknown; routes?: unknown; error?: RegExp }[] = [
    { name: 'one http port, no route: / goes to it', flags: { ports: ['80'] }, ports: [{ port: 80, protocol: 'http' }], routes: [{ path: '/', port: 80 }] },
    { name: 'one http2 port', flags: { ports: ['50051:http2'] }, ports: [{ port: 50051, protocol: 'http2' }], routes: [{ path: '/', port: 50051 }] },
    { name: 'tcp only: private, no route', flags: { ports: ['6379:tcp'] }, ports: [{ port: 6379, protocol: 'tcp' }], routes: [] },
    { name: 'one http + one tcp: route to the http one', flags: { ports: ['80', '9090:tcp'] }, routes: [{ path: '/', port: 80 }] },
    { name: 'two http ports without routes', flags: { ports: ['80', '81'] }, error: /2 HTTP ports \(80, 81\) but no routes/ },
    { name: 'one route without ports adds PORT:http', flags: { routes: ['/api:9000'] }, ports: [{ port: 9000, protocol: 'http' }], routes: [{ path: '/api', port: 9000 }] },
    { name: 'route without :PORT uses 8000', flags: { routes: ['/api'] }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ path: '/api', port: 8000 }] },
    { name: 'two routes without ports', flags: { routes: ['/a:1', '/b:2'] }, error: /2 routes but no ports/ },
    { name: 'route to a port that is not exposed', flags: { ports: ['80'], routes: ['/:9000'] }, error: /points to port 9000, which is not exposed/ },
    { name: 'route to a tcp port', flags: { ports: ['80:tcp'], routes: ['/:80'] }, error: /which is tcp/ },
    { name: 'both given explicitly', flags: { ports: ['80', '81'], routes: ['/:80', '/admin:81'] }, routes: [{ path: '/', port: 80 }, { path: '/admin', port: 81 }] },
    { name: 'bad protocol', flags: { ports: ['80:udp'] }, error: /protocol must be one of http, http2, tcp/ },
    { name: 'port out of range', flags: { ports: ['70000'] }, error: /between 1 and 65535/ },
    { name: 'port not a number', flags: { ports: ['http'] }, error: /between 1 and 65535/ },
    { name: 'route path must start with /', flags: { routes: ['api:80'] }, error: /must start with \// },
  ];
  for (const row of rows) {
    if (row.error) {
      assert.throws(() => create({ docker: 'x', ...row.flags }), row.error, row.name);
      continue;
    }
    const d = create({ docker: 'x', ...row.flags });
    if (row.ports) assert.deepEqual(d.ports, row.ports, row.name);
    if (row.routes) assert.deepEqual(d.routes, row.routes, row.name);
  }
});

test('--proxy-ports: tcp ports of the TCP proxy, exposed as tcp when new, ! deletes, web services only', () => {
  const d = create({ docker: 'postgres', proxyPorts: ['5432'] });
  assert.deepEqual([d.ports, d.routes, d.proxy_ports], [[{ port: 5432, protocol: 'tcp' }], [], [{ port: 5432, protocol: 'tcp' }]]);
  const both = create({ docker: 'x', ports: ['80', '22:tcp'], proxyPorts: ['22:tcp'] });
  assert.deepEqual([both.ports, both.routes, both.proxy_ports], [
    [{ port: 80, protocol: 'http' }, { port: 22, protocol: 'tcp' }], [{ path: '/', port: 80 }], [{ port: 22, protocol: 'tcp' }],
  ]);
  const gone = apply(d, { proxyPorts: ['!5432'] }).definition;
  assert.deepEqual([gone.ports, gone.proxy_ports], [[{ port: 5432, protocol: 'tcp' }], []], 'the port stays exposed (private)');
  assert.throws(() => create({ docker: 'x', proxyPorts: ['80:http'] }), /--proxy-ports "80:http": the TCP proxy carries tcp ports only; use 80 or 80:tcp/);
  assert.throws(() => create({ docker: 'x', proxyPorts: ['99999'] }), /--proxy-ports "99999": port must be a number between 1 and 65535/);
  assert.throws(() => create({ docker: 'x', type: 'worker', proxyPorts: ['22'] }), /worker service cannot have proxy ports; use --type web, or remove them: --proxy-ports '!22'/);
});

test('list flags upsert by key and ! deletes, on update', () => {
  const d = apply(BASE, { ports: ['8000:http2', '9090:tcp'], routes: ['/:8000', '/metrics:8000'] }).definition;
  assert.deepEqual(d.ports, [{ port: 8000, protocol: 'http2' }, { port: 9090, protocol: 'tcp' }]);
  assert.deepEqual(d.routes, [{ path: '/', port: 8000 }, { path: '/metrics', port: 8000 }]);
  const e = apply(d, { ports: ['!9090'], routes: ['!/metrics'] }).definition;
  assert.deepEqual(e.ports, [{ port: 8000, protocol: 'http2' }]);
  assert.deepEqual(e.routes, [{ path: '/', port: 8000 }]);
  // Making a public service private, as in the koyeb CLI example.
  const p = apply(BASE, { ports: ['8000:tcp'], routes: ['!/'] }).definition;
  assert.deepEqual([p.ports, p.routes], [[{ port: 8000, protocol: 'tcp' }], []]);
  // Deleting everything brings the create defaults back, as koyeb does.
  const back = apply(BASE, { ports: ['!8000'], routes: ['!/'] }).definition;
  assert.deepEqual([back.ports, back.routes], [BASE.ports, BASE.routes]);
});

test('--env: KEY=VALUE, KEY=@SECRET, KEY= and !KEY; switching plain and secret replaces the item', () => {
  const d = create({ docker: 'x', env: ['A=1', 'B=@db-url', 'C=', 'D=x=y', 'A=2'] });
  assert.deepEqual(d.env, [
    { key: 'A', value: '2', scopes: ['region:was'] },
    { key: 'B', secret: 'db-url', scopes: ['region:was'] },
    { key: 'C', value: '', scopes: ['region:was'] },
    { key: 'D', value: 'x=y', scopes: ['region:was'] },
  ]);
  const e = apply(d, { env: ['!C', 'B=plain', 'A=@s2', '!MISSING'] }).definition;
  assert.deepEqual(e.env, [
    { key: 'A', secret: 's2', scopes: ['region:was'] },
    { key: 'B', value: 'plain', scopes: ['region:was'] },
    { key: 'D', value: 'x=y', scopes: ['region:was'] },
  ]);
  assert.throws(() => create({ docker: 'x', env: ['NOVALUE'] }), /expected KEY=VALUE/);
  assert.throws(() => create({ docker: 'x', env: ['=1'] }), /expected KEY=VALUE/);
  assert.throws(() => create({ docker: 'x', env: ['A=@'] }), /secret name after @ is empty/);
});

test('--regions: default was, upsert and !remove, scopes follow, warning for several, error for none', () => {
  const two = apply({}, { docker: 'x', regions: ['fra', 'par'], env: ['A=1'] });
  assert.deepEqual(two.definition.regions, ['fra', 'par']);
  assert.deepEqual(two.definition.env?.[0]?.scopes, ['region:fra', 'region:par']);
  assert.match(two.warnings[0]!, /2 regions \(fra, par\)/);
  const moved = apply(two.definition, { regions: ['!par', 'sin'] }).definition;
  assert.deepEqual(moved.regions, ['fra', 'sin']);
  assert.deepEqual(moved.scalings?.[0]?.scopes, ['region:fra', 'region:sin']);
  assert.deepEqual(moved.instance_types?.[0]?.scopes, ['region:fra', 'region:sin']);
  assert.throws(() => apply(BASE, { regions: ['!was'] }), /at least one region/);
  assert.throws(() => create({ docker: 'x', regions: ['Fra!'] }), /not a region id/);
  assert.deepEqual(rescope(['team:a', 'region:was', 'region:fra'], ['fra', 'par']), ['team:a', 'region:fra', 'region:par']);
});

test('--instance-type replaces the type for all regions', () => {
  assert.deepEqual(apply(BASE, { instanceType: 'small' }).definition.instance_types, [{ type: 'small', scopes: ['region:was'] }]);
});

test('scaling: --scale sets both, --min/--max-scale override, update only touches what is given', () => {
  const s = (flags: DefinitionFlags, base: DeploymentDefinition = {}) => apply({ docker: { image: 'x' }, ...base }, flags).definition.scalings;
  assert.deepEqual(s({ scale: 3 }), [{ min: 3, max: 3, targets: [], scopes: ['region:was'] }]);
  assert.deepEqual(s({ minScale: 0, maxScale: 3, scale: 2 }), [{ min: 0, max: 3, targets: [], scopes: ['region:was'] }]);
  assert.deepEqual(s({ maxScale: 4 }), [{ min: 1, max: 4, targets: [], scopes: ['region:was'] }]);
  const auto = { ...BASE, scalings: [{ min: 1, max: 3, targets: [{ average_cpu: { value: 70 } }], scopes: ['region:was'] }] };
  assert.deepEqual(s({}, auto), auto.scalings, 'no flags keep targets');
  assert.deepEqual(s({ maxScale: 5 }, auto), [{ min: 1, max: 5, targets: [{ average_cpu: { value: 70 } }], scopes: ['region:was'] }]);
  assert.deepEqual(s({ scale: 2 }, auto), [{ min: 2, max: 2, targets: [], scopes: ['region:was'] }], 'fixed scaling drops targets');
  assert.throws(() => s({ minScale: 3, maxScale: 2 }), /min scale \(3\) is greater than max scale \(2\)/);
  assert.throws(() => s({ scale: -1 }), /cannot be negative/);
});

test('autoscaling targets upsert, 0 removes, response time gets quantile 95', () => {
  const d = create({
    docker: 'x', minScale: 1, maxScale: 5, autoscalingAverageCpu: 80, autoscalingAverageMem: 70,
    autoscalingRequestsPerSecond: 50, autoscalingConcurrentRequests: 20, autoscalingRequestsResponseTime: 300,
  });
  assert.deepEqual(d.scalings?.[0]?.targets, [
    { average_cpu: { value: 80 } }, { average_mem: { value: 70 } }, { requests_per_second: { value: 50 } },
    { concurrent_requests: { value: 20 } }, { requests_response_time: { value: 300, quantile: 95 } },
  ]);
  const e = apply(d, { autoscalingAverageCpu: 60, autoscalingAverageMem: 0, autoscalingRequestsResponseTime: 0 }).definition;
  assert.deepEqual(e.scalings?.[0]?.targets, [
    { average_cpu: { value: 60 } }, { requests_per_second: { value: 50 } }, { concurrent_requests: { value: 20 } },
  ]);
  assert.throws(() => create({ docker: 'x', maxScale: 2, autoscalingAverageCpu: 120 }), /between 0 \(off\) and 100/);
  const fixed = apply({}, { docker: 'x', autoscalingAverageCpu: 80 });
  assert.match(fixed.warnings[0]!, /no effect while min scale equals max scale/);
});

test('sleep delays: seconds in sleep_idle_delay, only with min scale 0, 0 disables', () => {
  const d = create({ docker: 'x', minScale: 0, maxScale: 2, lightSleepDelay: '5m', deepSleepDelay: '1h', autoscalingRequestsPerSecond: 10 });
  assert.deepEqual(d.scalings?.[0]?.targets, [
    { requests_per_second: { value: 10 } }, { sleep_idle_delay: { light_sleep_value: 300, deep_sleep_value: 3600 } },
  ]);
  const light = apply(d, { lightSleepDelay: '10m' }).definition.scalings?.[0]?.targets;
  assert.deepEqual(light?.[1], { sleep_idle_delay: { light_sleep_value: 600, deep_sleep_value: 3600 } });
  const off = apply(d, { lightSleepDelay: '0' }).definition.scalings?.[0]?.targets;
  assert.deepEqual(off?.[1], { sleep_idle_delay: { deep_sleep_value: 3600 } });
  const none = apply(d, { lightSleepDelay: '0', deepSleepDelay: '0' }).definition.scalings?.[0]?.targets;
  assert.deepEqual(none, [{ requests_per_second: { value: 10 } }]);
  assert.throws(() => create({ docker: 'x', lightSleepDelay: '5m' }), /need scale-to-zero: add --min-scale 0/);
  assert.throws(() => apply(d, { minScale: 1, deepSleepDelay: '1h' }), /--min-scale 0/);
  assert.throws(() => create({ docker: 'x', minScale: 0, maxScale: 1, deepSleepDelay: 'soon' }), /not a duration/);
  const legacy = { ...BASE, scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { value: 900 } }] }] };
  assert.deepEqual(apply(legacy, { lightSleepDelay: '1m' }).definition.scalings?.[0]?.targets, [{ sleep_idle_delay: { light_sleep_value: 60 } }]);
});

test('--deployment-strategy maps to the API enum', () => {
  assert.deepEqual(create({ docker: 'x', deploymentStrategy: 'rolling' }).strategy, { type: 'DEPLOYMENT_STRATEGY_TYPE_ROLLING' });
  assert.deepEqual(create({ docker: 'x', deploymentStrategy: 'blue-green' }).strategy, { type: 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN' });
  assert.deepEqual(create({ docker: 'x', deploymentStrategy: 'immediate' }).strategy, { type: 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE' });
  assert.equal(create({ docker: 'x' }).strategy, undefined);
  assert.throws(() => create({ docker: 'x', deploymentStrategy: 'canary' }), /rolling, blue-green, immediate/);
});

test('--checks and --checks-grace-period', () => {
  const d = create({ docker: 'x', ports: ['8000', '9090:tcp'], checks: ['8000:http:/healthz', '9090:tcp'], checksGracePeriod: ['8000=30'] });
  assert.deepEqual(d.health_checks, [{ http: { port: 8000, path: '/healthz' }, grace_period: 30 }, { tcp: { port: 9090 } }]);
  assert.deepEqual(create({ docker: 'x', checks: ['8000'] }).health_checks, [{ http: { port: 8000, path: '/' } }]);
  assert.deepEqual(create({ docker: 'x', checks: ['8000:http:/a:b'] }).health_checks, [{ http: { port: 8000, path: '/a:b' } }]);
  assert.deepEqual(apply(d, { checks: ['!9090', '8000:tcp'] }).definition.health_checks, [{ tcp: { port: 8000 } }]);
  assert.throws(() => create({ docker: 'x', checks: ['8000:grpc'] }), /type must be http or tcp/);
  assert.throws(() => create({ docker: 'x', checks: ['8000:tcp:/x'] }), /tcp check takes no path/);
  assert.throws(() => create({ docker: 'x', type: 'worker', checks: ['8000'] }), /only for web services/);
  assert.throws(() => create({ docker: 'x', checksGracePeriod: ['8000=10'] }), /no health check on port 8000/);
  assert.throws(() => create({ docker: 'x', checks: ['8000'], checksGracePeriod: ['8000:10'] }), /expected PORT=SECONDS/);
});

test('--config-file reads the local file, default permissions 0644, !PATH deletes', () => {
  const d = create({ docker: 'x', configFiles: ['./app.yaml:/etc/app.yaml', './app.yaml:/etc/b.yaml:600'] });
  assert.deepEqual(d.config_files, [
    { path: '/etc/app.yaml', permissions: '0644', content: 'port: 1\n' },
    { path: '/etc/b.yaml', permissions: '0600', content: 'port: 1\n' },
  ]);
  assert.deepEqual(apply(d, { configFiles: ['!/etc/app.yaml'] }).definition.config_files?.map((f) => f.path), ['/etc/b.yaml']);
  assert.throws(() => create({ docker: 'x', configFiles: ['./app.yaml:etc/x'] }), /must be absolute/);
  assert.throws(() => create({ docker: 'x', configFiles: ['./nope:/etc/x'] }), /cannot read \.\/nope: ENOENT/);
  assert.throws(() => create({ docker: 'x', configFiles: ['./app.yaml:/etc/x:rw'] }), /octal/);
  assert.throws(() => create({ docker: 'x', configFiles: ['/etc/x'] }), /LOCAL_FILE:PATH/);
});

test('docker source fields, and --privileged / --skip-cache', () => {
  const d = create({
    docker: 'ghcr.io/o/app:1', dockerCommand: 'node', dockerArgs: ['server.js', '--port', '8000'], dockerEntrypoint: ['/tini', '--'],
    dockerPrivateRegistrySecret: 'ghcr', privileged: true, skipCache: true,
  });
  assert.deepEqual(d.docker, {
    image: 'ghcr.io/o/app:1', command: 'node', args: ['server.js', '--port', '8000'], entrypoint: ['/tini', '--'],
    image_registry_secret: 'ghcr', privileged: true,
  });
  assert.equal(d.skip_cache, true);
  assert.deepEqual(apply(d, { dockerArgs: [] }).definition.docker?.args, []);
  assert.equal(apply(d, { privileged: false }).definition.docker?.privileged, false);
  assert.throws(() => apply({}, {}), /needs a source: add --docker IMAGE or --git REPOSITORY/);
  assert.throws(() => create({ dockerCommand: 'x' }), /needs an image/);
});

test('git source: branch main by default, buildpack builder by default, docker builder on request', () => {
  const g = create({ git: 'github.com/o/r' });
  assert.deepEqual(g.git, { repository: 'github.com/o/r', branch: 'main', buildpack: {} });
  assert.equal(g.docker, undefined);
  const bp = create({ git: 'github.com/o/r', gitBranch: 'dev', gitWorkdir: 'api', gitBuildpackBuildCommand: 'make', gitBuildpackRunCommand: './run', gitNoDeployOnPush: true, privileged: true });
  assert.deepEqual(bp.git, {
    repository: 'github.com/o/r', branch: 'dev', workdir: 'api', no_deploy_on_push: true,
    buildpack: { build_command: 'make', run_command: './run', privileged: true },
  });
  const dk = create({ git: 'github.com/o/r', gitBuilder: 'docker', gitDockerDockerfile: 'Dockerfile.prod', gitDockerTarget: 'runtime', gitDockerCommand: 'serve', gitDockerArgs: ['-p', '1'], gitDockerEntrypoint: ['/e'] });
  assert.deepEqual(dk.git?.docker, { dockerfile: 'Dockerfile.prod', target: 'runtime', command: 'serve', args: ['-p', '1'], entrypoint: ['/e'] });
  assert.equal(dk.git?.buildpack, undefined);
  assert.deepEqual(create({ git: 'github.com/o/r', gitDockerDockerfile: 'D' }).git?.docker, { dockerfile: 'D' }, 'docker flags on a new source pick the docker builder');
  assert.throws(() => apply(g, { gitDockerTarget: 't' }), /add --git-builder docker/);
  assert.throws(() => apply(dk, { gitBuildpackRunCommand: 'x' }), /add --git-builder buildpack/);
  assert.deepEqual(apply(dk, { gitBuilder: 'buildpack' }).definition.git?.buildpack, {});
  assert.throws(() => create({ git: 'github.com/o/r', gitBuilder: 'nixpacks' }), /--git-builder must be "buildpack" or "docker"/);
  const pinned = create({ git: 'github.com/o/r', gitSha: 'abc123' });
  assert.deepEqual([pinned.git?.sha, pinned.git?.branch], ['abc123', undefined]);
  assert.equal(apply({ ...pinned, git: { ...pinned.git!, branch: 'main' } }, { gitSha: '' }).definition.git?.sha, undefined);
  assert.throws(() => create({ gitBranch: 'x' }), /needs a repository/);
});

test('switching sources: --docker and --git flags conflict, and either replaces the other on update', () => {
  assert.throws(() => create({ docker: 'x', git: 'github.com/o/r' }), /cannot be combined/);
  const g = apply(BASE, { git: 'github.com/o/r' }).definition;
  assert.equal(g.docker, undefined);
  assert.equal(g.git?.repository, 'github.com/o/r');
  const back = apply(g, { docker: 'nginx:2' }).definition;
  assert.deepEqual([back.git, back.docker], [undefined, { image: 'nginx:2' }]);
  const archived = apply({ ...BASE, docker: undefined, archive: { id: 'a1', buildpack: {} } }, { privileged: true }).definition;
  assert.deepEqual(archived.archive, { id: 'a1', buildpack: { privileged: true } });
});
