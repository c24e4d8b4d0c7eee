// `pier compose FILE` (and `pier quotas`, `pier usage`) in-process against a real Pier (SQLite, no runtime): a YAML file with ${VAR}s creates the app
// and its services, the same file again reports every service unchanged, bad files fail naming the field path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier, type TestPier } from '../api/helpers.ts';
import { expandEnv } from '../../src/cli/commands/compose.ts';
import { run } from './harness.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

const FILE = `app:
  name: \${APP}
services:
  - definition:
      name: web
      type: WEB
      docker: { image: "nginx:$TAG" }
      regions: [fra]
      ports: [{ port: 8000 }]
      routes: [{ port: 8000, path: / }]
  - definition:
      name: jobs
      type: WORKER
      docker: { image: busybox, command: sh, args: ['-c', 'sleep 3600'] }
      regions: [fra]
`;

test('expandEnv follows os.ExpandEnv: $NAME and ${NAME}, unset is empty', () => {
  assert.equal(expandEnv('a $X ${Y} ${MISSING}b $', { X: '1', Y: '2' }), 'a 1 2 b $');
});

test('pier compose applies a file, then reports it unchanged; a bad file names the field', async () => {
  const files: Record<string, string> = { 'koyeb.yaml': FILE, 'bad.yaml': 'app: {name: shop}\nservices:\n  - definition: {name: web, docker: {image: x}, ports: [{port: 0}]}\n', 'broken.yaml': 'app: [' };
  const opts = (env: Record<string, string> = {}) => ({ env: { PIER_URL: t.url, PIER_TOKEN: t.token, APP: 'composed', TAG: '1.27', ...env }, readFile: (p: string) => { if (!(p in files)) throw new Error('ENOENT'); return files[p]!; } });

  const first = await run(undefined, ['compose', 'koyeb.yaml'], opts());
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^App composed \([0-9a-f]{8}\) created$/m);
  assert.match(first.stdout, /^web\s+[0-9a-f]{8}\s+WEB\s+created\s+[0-9a-f]{8}/m);
  assert.match(first.stdout, /^jobs\s+[0-9a-f]{8}\s+WORKER\s+created/m);
  const svc = (await t.req('GET', '/v1/services?name=web')).body.services[0];
  const dep = (await t.req('GET', `/v1/deployments/${svc.latest_deployment_id}`)).body.deployment;
  assert.equal(dep.definition.docker.image, 'nginx:1.27', '$TAG was expanded');

  const again = await run(undefined, ['compose', 'koyeb.yaml'], opts());
  assert.match(again.stdout, /^web\s+\S+\s+WEB\s+unchanged/m);
  assert.match(again.stdout, /^jobs\s+\S+\s+WORKER\s+unchanged/m);
  assert.equal((await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.deployments.length, 1);

  const changed = await run(undefined, ['compose', 'koyeb.yaml', '-o', 'json'], opts({ TAG: '1.28' }));
  assert.deepEqual(JSON.parse(changed.stdout).pier.updated, ['web']);

  const bad = await run(undefined, ['compose', 'bad.yaml'], opts());
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /services\[0\]\.definition\.ports\[0\]\.port/);
  const broken = await run(undefined, ['compose', 'broken.yaml'], opts());
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /broken\.yaml is not valid YAML/);
  const missing = await run(undefined, ['compose', 'nope.yaml'], opts());
  assert.match(missing.stderr, /cannot read nope\.yaml/);
});

test('pier quotas get|set and pier usage against the same Pier', async () => {
  const env = { PIER_URL: t.url, PIER_TOKEN: t.token };
  const orgId = t.organizationId;
  const none = await run(undefined, ['quotas', 'get'], { env });
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /Apps:\s+no limit/);
  const set = await run(undefined, ['quotas', 'set', orgId, '--apps', '50', '--regions', 'fra,was', '--max-instances', 'nano=4', '--proxy-ports', '3'], { env });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /Public TCP proxy ports:\s+3/);
  assert.match(set.stdout, /Apps:\s+50/);
  assert.match(set.stdout, /Regions:\s+fra, was/);
  assert.match(set.stdout, /Instances by type \(at max scale\):\s+nano=4/);
  const json = await run(undefined, ['quotas', 'get', orgId, '-o', 'json'], { env });
  assert.deepEqual(JSON.parse(json.stdout).quotas, { apps: '50', regions: ['fra', 'was'], max_instances_by_type: { nano: '4' }, proxy_ports: 3 });
  const bad = await run(undefined, ['quotas', 'set', orgId, '--max-instances', 'nano'], { env });
  assert.equal(bad.code, 2);
  assert.equal((await run(undefined, ['quotas', 'set', orgId], { env })).code, 0, 'no flag lifts every limit');
  const usage = await run(undefined, ['usage'], { env });
  assert.equal(usage.code, 0, usage.stderr);
  assert.equal(usage.stdout.trim(), 'No usage in this period.');
});
