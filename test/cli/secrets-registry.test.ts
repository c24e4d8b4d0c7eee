import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registrySecretBody } from '../../src/cli/secret-types.ts';
import { run, startFakeApi } from './harness.ts';

const SECRET = { id: '77777777-aaaa-4aaa-8aaa-000000000007', name: 'reg', type: 'REGISTRY', created_at: '2026-03-01T12:00:00Z' };

test('registry types map to the API body koyeb sends; missing flags are named', () => {
  assert.deepEqual(registrySecretBody('hub', 'registry-docker-hub', { username: 'u', password: 'p' }), {
    body: { name: 'hub', type: 'REGISTRY', docker_hub_registry: { username: 'u', password: 'p' } }, missing: [],
  });
  assert.deepEqual(registrySecretBody('g', 'registry-gcp', { keyfile: '{}' })!.missing, ['--registry-url']);
  assert.deepEqual(registrySecretBody('a', 'registry-azure', { username: 'u', password: 'p' })!.missing, ['--registry-name']);
  assert.equal(registrySecretBody('x', 'registry-nope', {}), undefined);
});

test('secrets create --type registry-private sends a REGISTRY secret; the password may come from stdin', async () => {
  const api = await startFakeApi({ 'POST /v1/secrets': { body: { secret: SECRET } } });
  try {
    const r = await run(api, ['secrets', 'create', 'reg', '--type', 'registry-private', '--username', 'u', '--password', 'p', '--registry-url', 'registry.example.com']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.requests[0]!.body, { name: 'reg', type: 'REGISTRY', private_registry: { username: 'u', password: 'p', url: 'registry.example.com' } });
    assert.ok(!r.stdout.includes('p\n') && r.stdout.includes('REGISTRY'));
    const s = await run(api, ['secrets', 'create', 'hub', '--type', 'registry-dockerhub', '--registry-username', 'me', '--value-from-stdin'], { stdin: 's3cret\n' });
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(api.requests[1]!.body, { name: 'hub', type: 'REGISTRY', docker_hub_registry: { username: 'me', password: 's3cret' } });
    const missing = await run(api, ['secrets', 'create', 'reg', '--type', 'registry-private', '--username', 'u', '--password', 'p']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: a registry-private secret needs --registry-url\n/);
    const unknown = await run(api, ['secrets', 'create', 'reg', '--type', 'registry-quay', '--username', 'u']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--type must be one of simple, registry-dockerhub, registry-private/);
    assert.equal(api.requests.length, 2, 'bad command lines send nothing');
  } finally {
    await api.close();
  }
});

test('a duplicate name prints its error once', async () => {
  const api = await startFakeApi({
    'POST /v1/secrets': {
      status: 409,
      body: { status: 409, code: 'already_exists', message: 'A secret named reg already exists', fields: [{ field: 'name', description: 'a secret named "reg" already exists' }] },
    },
  });
  try {
    const r = await run(api, ['secrets', 'create', 'reg', '--value', 'v']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: A secret named reg already exists\n');
    // The same error in the google.rpc.Status shape the API sends for a 409 (Pier's code in details[]).
    api.routes['POST /v1/secrets'] = {
      status: 409,
      body: {
        code: 6, message: 'A secret named reg already exists', status: 409,
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'already_exists' }],
        fields: [{ field: 'name', description: 'a secret named "reg" already exists' }],
      },
    };
    const rpc = await run(api, ['secrets', 'create', 'reg', '--value', 'v']);
    assert.equal(rpc.stderr, 'error: A secret named reg already exists\n');
  } finally {
    await api.close();
  }
});

test('secrets update of a registry secret keeps the shown user name and URL and takes the new password', async () => {
  const shown = { ...SECRET, private_registry: { username: 'u', url: 'registry.example.com' } };
  const api = await startFakeApi({
    'GET /v1/secrets': { body: { secrets: [shown], count: 1 } },
    [`GET /v1/secrets/${SECRET.id}`]: { body: { secret: shown } },
    [`PUT /v1/secrets/${SECRET.id}`]: { body: { secret: shown, services_using: [] } },
  });
  try {
    const r = await run(api, ['secrets', 'update', 'reg', '--value-from-stdin'], { stdin: 'new-pass\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.requests.at(-1)!.body, { name: 'reg', private_registry: { username: 'u', password: 'new-pass', url: 'registry.example.com' } });
    const moved = await run(api, ['secrets', 'update', 'reg', '--password', 'p2', '--registry-url', 'other.example.com']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.deepEqual(api.requests.at(-1)!.body, { name: 'reg', private_registry: { username: 'u', password: 'p2', url: 'other.example.com' } });
    const none = await run(api, ['secrets', 'update', 'reg']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /updating a registry-private secret needs --registry-password/);
  } finally {
    await api.close();
  }
});
