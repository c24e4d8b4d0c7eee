import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, referencedNames, resolveEnv } from './interpolate.ts';

const VARS = {
  secrets: { 'db-password': 's3cret', api: 'k' },
  env: { NAME: 'pier', EMPTY: '' },
  system: { KOYEB_PUBLIC_DOMAIN: 'app-org.pier.local', NAME: 'system-name' },
};

test('interpolate: secrets, user env before system vars, spaces tolerated, unknown kept', () => {
  const rows: [string, string, string[]][] = [
    ['plain', 'plain', []],
    ['{{secret.db-password}}', 's3cret', []],
    ['{{ secret.db-password }}', 's3cret', []],
    ['{{  secret . api  }}', 'k', []],
    ['https://{{ KOYEB_PUBLIC_DOMAIN }}/x', 'https://app-org.pier.local/x', []],
    ['{{NAME}}', 'pier', []],
    ['[{{ EMPTY }}]', '[]', []],
    ['{{ MISSING }} and {{ secret.nope }} and {{ MISSING }}', '{{ MISSING }} and {{ secret.nope }} and {{ MISSING }}', ['MISSING', 'secret.nope']],
    ['{{ }}', '{{ }}', ['']],
    ['{ NAME } {{NAME}', '{ NAME } {{NAME}', []],
    ['{{ NAME }}{{NAME}}', 'pierpier', []],
  ];
  for (const [template, value, unknown] of rows) assert.deepEqual(interpolate(template, VARS), { value, unknown }, template);
  assert.deepEqual(referencedNames('{{ secret.a }} {{B}}'), ['secret.a', 'B']);
});

test('resolveEnv: secret refs, interpolation across entries in any order, later key wins', () => {
  const { env, errors } = resolveEnv([
    { key: 'URL', value: 'postgres://app:{{ secret.db-password }}@{{ HOST }}/db' },
    { key: 'HOST', value: 'db.{{ KOYEB_PUBLIC_DOMAIN }}' },
    { key: 'PW', secret: 'db-password' },
    { key: 'LITERAL', secret: 'api' },
    { key: 'FROM_VARS', value: '{{ NAME }}' },
    { key: 'X', value: 'first' },
    { key: 'X', value: 'second' },
  ], VARS);
  assert.deepEqual(errors, []);
  assert.deepEqual(env, {
    URL: 'postgres://app:s3cret@db.app-org.pier.local/db',
    HOST: 'db.app-org.pier.local',
    PW: 's3cret',
    LITERAL: 'k',
    FROM_VARS: 'pier',
    X: 'second',
  });
});

test('resolveEnv: unknown secrets and names, and cycles, are errors at the entry path', () => {
  const rows: [Parameters<typeof resolveEnv>[0], [string, RegExp][]][] = [
    [[{ key: 'A', secret: 'missing' }], [['definition.env[0].secret', /secret "missing" does not exist/]]],
    [[{ key: 'A', value: '{{ secret.missing }}' }], [['definition.env[0].value', /unknown secret \{\{ secret.missing \}\}/]]],
    [[{ key: 'A', value: 'x' }, { key: 'B', value: '{{ NOPE }}' }], [['definition.env[1].value', /unknown variable \{\{ NOPE \}\}: define NOPE in env/]]],
    [[{ key: 'A', value: '{{ B }}' }, { key: 'B', value: '{{ A }}' }], [['definition.env[0].value', /A refers to itself \(A -> B -> A\)/]]],
    [[{ key: 'A', value: '{{A}}' }], [['definition.env[0].value', /A refers to itself \(A -> A\)/]]],
  ];
  for (const [entries, want] of rows) {
    const { errors } = resolveEnv(entries, VARS);
    assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), JSON.stringify(entries));
    want.forEach(([, re], i) => assert.match(errors[i]!.description, re));
  }
  const custom = resolveEnv([{ key: 'A', secret: 'x' }], VARS, 'env');
  assert.equal(custom.errors[0]!.field, 'env[0].secret');
  // Errors never carry secret values.
  const leak = resolveEnv([{ key: 'A', value: '{{ secret.db-password }}{{ NOPE }}' }], VARS);
  assert.ok(!JSON.stringify(leak.errors).includes('s3cret'));
});
