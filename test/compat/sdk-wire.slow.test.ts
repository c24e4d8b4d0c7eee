// Pins what Koyeb's Python SDK sends and accepts on the wire (the facts docs/compat.md lists for Pier's API), by
// running it against the recording server: no Pier needed, so these hold even while the API is being written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { koyebSdkPython, repoRoot } from './clients.ts';
import { startRecordingServer, type CannedReply, type RecordedRequest } from './recording-server.ts';

const service = (extra: object) => ({ service: { id: 's', name: 'probe', status: 'HEALTHY', version: '1', ...extra } });

function reply(req: RecordedRequest): CannedReply | undefined {
  if (req.path === '/v1/apps' && req.method === 'POST') {
    const name = (req.body as { name?: string } | undefined)?.name;
    return { status: name === 'probe-201' ? 201 : 200, body: { app: { id: 'a', name } } };
  }
  if (req.path === '/v1/services/numeric-version') return { body: service({ version: 3 }) };
  if (req.path === '/v1/services/unknown-status') return { body: service({ status: 'RUNNING' }) };
  if (req.path === '/v1/services/empty-timestamp') return { body: service({ terminated_at: '' }) };
  if (req.path === '/v1/services/null-timestamp') return { body: service({ terminated_at: null }) };
  if (req.path === '/v1/services' && req.method === 'GET') return { body: { services: [], limit: 20, offset: 0, count: 0 } };
  return undefined;
}

const python = koyebSdkPython();
// Absent SDK: skip with the reason (scripts/test installs it from PyPI first and says so when that fails).
const skip = 'error' in python ? `koyeb-sdk absent: ${python.error}` : false;

test('koyeb-sdk wire behaviour that Pier must serve', { skip }, async (t) => {
  if ('error' in python) return;
  const rec = await startRecordingServer(reply);
  t.after(() => rec.close());

  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      python.path,
      [path.join(repoRoot, 'test/compat/sdk_wire.py')],
      { env: { ...process.env, PIER_URL: rec.url }, timeout: 60_000 },
      (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
    );
  });
  const probes = new Map(
    stdout.split('\n').filter(Boolean).map((l) => {
      const p = JSON.parse(l) as { probe: string; result: { ok: boolean; value?: unknown; error?: string } };
      return [p.probe, p.result] as const;
    }),
  );
  const sent = (method: string, p: string) => rec.requests.filter((r) => r.method === method && r.path === p);

  await t.test('JSON bodies arrive without a Content-Type header, with the Bearer token', () => {
    const [create] = sent('POST', '/v1/apps');
    assert.deepEqual(create.body, { name: 'probe-200' });
    assert.equal(create.headers['content-type'], undefined);
    assert.equal(create.headers.authorization, 'Bearer ***');
  });
  await t.test('creates must answer 200: a 201 falls to the "default" (google.rpc.Status) model', () => {
    assert.deepEqual(probes.get('create_app'), { ok: true, value: 'CreateAppReply' });
    assert.deepEqual(probes.get('create_app answered 201'), { ok: true, value: 'GoogleRpcStatus' });
  });
  await t.test('the SDK adds definition.mesh = DEPLOYMENT_MESH_AUTO to every definition it sends', () => {
    const [create] = sent('POST', '/v1/services');
    assert.equal((create.body as { definition: { mesh?: string } }).definition.mesh, 'DEPLOYMENT_MESH_AUTO');
  });
  await t.test('list filters are repeated query params', () => {
    const [list] = sent('GET', '/v1/services');
    assert.deepEqual(list.query.statuses, ['HEALTHY', 'DEGRADED']);
  });
  await t.test('version must be a JSON string and enums must be known values', () => {
    assert.equal(probes.get('get_service numeric version')?.ok, false);
    assert.equal(probes.get('get_service unknown status')?.ok, false);
  });
  await t.test('an unset timestamp must be null, absent or a date: "" fails the datetime model', () => {
    assert.equal(probes.get('get_service empty timestamp')?.ok, false);
    assert.deepEqual(probes.get('get_service null timestamp'), { ok: true, value: null });
  });
  await t.test('POST actions are sent with an empty body (Content-Length: 0)', () => {
    const [pause] = sent('POST', '/v1/services/s/pause');
    assert.equal(pause.body, undefined);
    assert.equal(pause.headers['content-length'], '0');
  });
});
