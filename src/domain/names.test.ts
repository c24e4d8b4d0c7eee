import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateAppName, validateSecretName, validateServiceName } from './names.ts';

const RULE = 'lower-case letters, digits and dashes, starting and ending with a letter or digit';

test('app names: 3 to 23 character slugs', () => {
  const rows: [unknown, boolean][] = [
    ['abc', true], ['my-app', true], ['a1-b2-c3', true], ['x'.repeat(23), true], ['123', true],
    ['ab', false], ['x'.repeat(24), false], ['-abc', false], ['abc-', false], ['My-App', false], ['my_app', false],
    ['my app', false], ['', false], [undefined, false], [42, false], ['app.name', false],
  ];
  for (const [name, ok] of rows) {
    const why = validateAppName(name);
    assert.equal(why === null, ok, `${String(name)}: ${why}`);
    if (!ok) assert.match(why!, /must be 3 to 23 characters/);
  }
  assert.equal(validateAppName('ab'), `app name "ab" must be 3 to 23 characters: ${RULE}`);
  assert.match(validateAppName('MyApp')!, /\(try "myapp"\)$/);
  assert.match(validateAppName(undefined)!, /^app name is required/);
});

test('service names: 2 to 63 character slugs', () => {
  const rows: [string, boolean][] = [
    ['ab', true], ['web', true], ['x'.repeat(63), true], ['a', false], ['x'.repeat(64), false], ['api_v2', false], ['a--b', true],
  ];
  for (const [name, ok] of rows) assert.equal(validateServiceName(name) === null, ok, name);
  assert.match(validateServiceName('a')!, /^service name "a" must be 2 to 63 characters/);
});

test('secret names: 2 to 64 character slugs', () => {
  const rows: [string, boolean][] = [
    ['db', true], ['db-password', true], ['x'.repeat(64), true], ['d', false], ['x'.repeat(65), false], ['DB_PASSWORD', false],
  ];
  for (const [name, ok] of rows) assert.equal(validateSecretName(name) === null, ok, name);
  assert.match(validateSecretName('d')!, /^secret name "d" must be 2 to 64 characters/);
});
