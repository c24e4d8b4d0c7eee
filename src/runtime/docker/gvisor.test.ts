// Fast tests of the gVisor driver's pure parts: what it needs from the engine, and the container body it sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GVISOR_OCI_RUNTIME, gvisorEngineProblem } from './gvisor.ts';
import { createContainerBody } from './spec.ts';

test('the engine must know runsc; the message says what it knows and how to fix it', () => {
  const problem = gvisorEngineProblem({ Runtimes: { runc: { path: 'runc' } } });
  assert.match(problem ?? '', /no "runsc" runtime \(it knows: runc\): run `PIER_RUNTIME=gvisor pier setup --yes`/);
  assert.match(gvisorEngineProblem({}) ?? '', /it knows: none/);
  assert.equal(gvisorEngineProblem({ Runtimes: { runc: { path: 'runc' }, runsc: { path: '/usr/local/lib/pier/runsc', runtimeArgs: ['--platform=ptrace'] } } }), undefined);
});

test('the container body names the OCI runtime only when one is chosen', () => {
  const spec = { instanceId: 'i1', labels: {}, image: 'img', env: {}, ports: [8000], cpu: 1, memoryBytes: 1 << 27 };
  const hc = (runtime?: string) => (createContainerBody(spec, { pidsLimit: 10, runtime }).HostConfig as Record<string, unknown>);
  assert.equal(hc(GVISOR_OCI_RUNTIME).Runtime, 'runsc');
  assert.equal('Runtime' in hc(), false);
});
