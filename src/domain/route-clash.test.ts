import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';
import { routeClashes, routePrefix } from './route-clash.ts';

const def = (...paths: string[]) => ({ routes: paths.map((path) => ({ port: 8000, path })) });

test('routePrefix compares as the edge does', () => {
  assert.deepEqual(['/', '', '/api/', 'api', '/api//', '/a/b'].map(routePrefix), ['/', '/', '/api', '/api', '/api', '/a/b']);
});

test('routeClashes names the other service for each clashing route', () => {
  const others = [{ name: 'web', definition: def('/') }, { name: 'api', definition: def('/api', '/v2') }, { name: 'worker', definition: {} }];
  assert.deepEqual(routeClashes(def('/docs', '/apix', '/api/v1'), others), []);
  const got = routeClashes(def('/docs', '/', '/api/'), others);
  assert.deepEqual(got.map((e) => e.field), ['definition.routes[1].path', 'definition.routes[2].path']);
  assert.match(got[0]!.description, /route "\/" is already served by service web of this app/);
  assert.match(got[1]!.description, /route "\/api\/" is already served by service api/);
  assert.deepEqual(routeClashes(def('/'), others, 'service.definition').map((e) => e.field), ['service.definition.routes[0].path']);
  assert.deepEqual(routeClashes(def('/'), []), []);
  assert.deepEqual(routeClashes({}, others), []);
});

test('one definition cannot declare the same prefix twice, with or without a trailing slash', () => {
  const { errors } = normalizeDefinition({ docker: { image: 'nginx' }, ports: [{ port: 8000 }], routes: [{ port: 8000, path: '/api' }, { port: 8000, path: '/api/' }] });
  assert.deepEqual(errors.map((e) => e.field), ['definition.routes[1].path']);
  assert.match(errors[0]!.description, /declared twice/);
});
