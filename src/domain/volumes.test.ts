import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';
import {
  VOLUME_STATUSES, SNAPSHOT_STATUSES, canSnapshotTransition, canVolumeTransition, isFull, parseSnapshotCreate,
  parseVolumeCreate, parseVolumeUpdate, volumeDefinitionErrors, type VolumeFacts,
} from './volumes.ts';

const WEB = { docker: { image: 'nginx' }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ path: '/', port: 8000 }] };

function errorsOf(volumes: unknown, extra: Record<string, unknown> = {}): [string, string][] {
  return normalizeDefinition({ ...WEB, ...extra, volumes }).errors.map((e) => [e.field, e.description]);
}

test('definition.volumes: paths, ids, replica indexes and scopes, every problem at once with its field', () => {
  const rows: [unknown, [string, RegExp][]][] = [
    [[{ id: 'a', path: '/data' }], []],
    [[{ id: 'a', path: '/' }], [['definition.volumes[0].path', /cannot be \//]]],
    [[{ id: 'a', path: '//' }], [['definition.volumes[0].path', /cannot be \//]]],
    [[{ id: 'a', path: 'data' }], [['definition.volumes[0].path', /absolute path/]]],
    [[{ id: 'a', path: '/proc/x' }], [['definition.volumes[0].path', /under \/proc/]]],
    [[{ id: 'a', path: '/sys' }], [['definition.volumes[0].path', /under \/sys/]]],
    [[{ id: 'a', path: '/dev/shm' }], [['definition.volumes[0].path', /under \/dev/]]],
    [[{ id: 'a', path: '/data/../etc' }], [['definition.volumes[0].path', /\.\. segments/]]],
    [[{ path: '/data' }], [['definition.volumes[0].id', /is required/]]],
    [[{ id: 'a' }], [['definition.volumes[0].path', /is required/]]],
    [[{ id: 'a', path: '/data', replica_index: -1 }], [['definition.volumes[0].replica_index', /between 0 and/]]],
    [[{ id: 'a', path: '/data', replica_index: 1.5 }], [['definition.volumes[0].replica_index', /whole number/]]],
    [[{ id: 'a', path: '/data', size: 3 }], [['definition.volumes[0].size', /unknown field/]]],
    [[{ id: 'a', path: '/data' }, { id: 'b', path: '/data' }], [['definition.volumes[1].path', /one volume per path/]]],
    [[{ id: 'a', path: '/data' }, { id: 'b', path: '/data/sub' }], [['definition.volumes[1].path', /nested/]]],
    [[{ id: 'a', path: '/data' }, { id: 'a', path: '/other' }], [['definition.volumes[1].id', /already mounted/]]],
    [[{ id: 'a', path: '/data', replica_index: 1 }], [['definition.volumes[0].replica_index', /without gaps/]]],
    [[{ id: 'a', path: '/data', replica_index: 0 }, { id: 'b', path: '/data', replica_index: 1 }], []],
    [[{ id: 'a', path: '/data', scopes: ['region:fra'] }], [['definition.volumes[0].scopes[0]', /does not run in/]]],
    ['x', [['definition.volumes', /must be a list/]]],
    [[7], [['definition.volumes[0]', /must be an object/]]],
  ];
  for (const [input, want] of rows) {
    const got = errorsOf(input);
    assert.deepEqual(got.map((g) => g[0]), want.map((w) => w[0]), JSON.stringify(input) + ' ' + JSON.stringify(got));
    want.forEach(([, re], i) => assert.match(got[i]![1], re, JSON.stringify(input)));
  }
  // Per region: the same path in two regions is two mounts, not a clash.
  assert.deepEqual(errorsOf([{ id: 'a', path: '/d', scopes: ['region:fra'] }, { id: 'b', path: '/d', scopes: ['region:was'] }], { regions: ['fra', 'was'] }), []);
});

const vol = (over: Partial<VolumeFacts> = {}): VolumeFacts => ({
  id: 'v1', name: 'data', region: 'was', status: 'PERSISTENT_VOLUME_STATUS_DETACHED', service_id: '', ...over,
});

test('cross-object rules: existence, region, one service, at most one instance per replica index', () => {
  const def = normalizeDefinition({ ...WEB, volumes: [{ id: 'v1', path: '/data' }] }).definition;
  const one = new Map([['v1', vol()]]);
  const max = (n: number) => () => n;
  assert.deepEqual(volumeDefinitionErrors(def, one, undefined, max(1)), []);
  const fields = (errs: { field: string }[]) => errs.map((e) => e.field);
  assert.deepEqual(fields(volumeDefinitionErrors(def, new Map(), undefined, max(1))), ['definition.volumes[0].id']);
  const elsewhere = volumeDefinitionErrors(def, new Map([['v1', vol({ region: 'fra' })]]), undefined, max(1));
  assert.deepEqual(fields(elsewhere), ['definition.volumes[0].scopes', 'definition.volumes[0].id']);
  assert.match(elsewhere[1]!.description, /add fra to regions/);
  const taken = volumeDefinitionErrors(def, new Map([['v1', vol({ service_id: 's2', serviceName: 'db' })]]), 's1', max(1));
  assert.match(taken[0]!.description, /attached to service db: remove it from that service first/);
  assert.deepEqual(volumeDefinitionErrors(def, new Map([['v1', vol({ service_id: 's1' })]]), 's1', max(1)), [], 'its own service');
  const scaled = volumeDefinitionErrors(def, one, undefined, max(3));
  assert.deepEqual(fields(scaled), ['definition.scalings']);
  assert.match(scaled[0]!.description, /may run 3 instances but declares volumes for 1 replica index .* set max to 1/);
  const deleting = volumeDefinitionErrors(def, new Map([['v1', vol({ status: 'PERSISTENT_VOLUME_STATUS_DELETING' })]]), undefined, max(1));
  assert.match(deleting[0]!.description, /being deleted/);
});

test('status machines: every status has a row, DELETED is final, a volume is never ATTACHED while deleting', () => {
  for (const s of VOLUME_STATUSES) assert.equal(canVolumeTransition(s, s), true);
  for (const s of SNAPSHOT_STATUSES) assert.equal(canSnapshotTransition(s, s), true);
  assert.equal(canVolumeTransition('PERSISTENT_VOLUME_STATUS_DELETED', 'PERSISTENT_VOLUME_STATUS_DETACHED'), false);
  assert.equal(canVolumeTransition('PERSISTENT_VOLUME_STATUS_ATTACHED', 'PERSISTENT_VOLUME_STATUS_DELETING'), false);
  assert.equal(canVolumeTransition('PERSISTENT_VOLUME_STATUS_DELETING', 'PERSISTENT_VOLUME_STATUS_ATTACHED'), false);
  assert.equal(canSnapshotTransition('SNAPSHOT_STATUS_CREATING', 'SNAPSHOT_STATUS_AVAILABLE'), true);
  assert.equal(canSnapshotTransition('SNAPSHOT_STATUS_DELETED', 'SNAPSHOT_STATUS_AVAILABLE'), false);
});

test('request bodies: create, update (grow only), snapshot', () => {
  const regions = ['fra', 'was'];
  const all = ['fra', 'was', 'sin'];
  assert.deepEqual(parseVolumeCreate({ name: 'data', region: 'was', max_size: 10 }, regions, all).input,
    { name: 'data', region: 'was', max_size: 10, read_only: false });
  assert.deepEqual(parseVolumeCreate({ name: 'data', region: 'was', max_size: '10', volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK' }, regions, all).errors, []);
  assert.deepEqual(parseVolumeCreate({ name: 'ro', region: 'was', max_size: 1, read_only: true }, regions, all).input,
    { name: 'ro', region: 'was', max_size: 1, read_only: true }, 'read-only volumes are mounted read-only');
  const bad = parseVolumeCreate({ name: 'Data!', region: 'sin', max_size: 0, read_only: 'yes', foo: 1 }, regions, all).errors;
  assert.deepEqual(bad.map((e) => e.field), ['volume.foo', 'name', 'region', 'max_size', 'read_only']);
  assert.match(bad[2]!.description, /does not take volumes/);
  assert.deepEqual(parseVolumeCreate({ name: 'copy', region: 'was', snapshot_id: 's' }, regions, all).input,
    { name: 'copy', region: 'was', max_size: 0, read_only: false, snapshot_id: 's' }, 'size from the snapshot');
  assert.deepEqual(parseVolumeCreate({ name: 'x1', region: 'was' }, regions, all).errors.map((e) => e.field), ['max_size']);
  assert.deepEqual(parseVolumeUpdate({ max_size: 20 }, { name: 'a', max_size: 10 }), { patch: { max_size: 20 }, errors: [] });
  assert.match(parseVolumeUpdate({ max_size: 5 }, { name: 'a', max_size: 10 }).errors[0]!.description, /can only grow/);
  assert.deepEqual(parseVolumeUpdate({ name: 'bb' }, { name: 'a', max_size: 10 }).patch, { name: 'bb' });
  assert.deepEqual(parseSnapshotCreate({ name: 'n1', parent_volume_id: 'v' }).input, { name: 'n1', parent_volume_id: 'v' });
  assert.deepEqual(parseSnapshotCreate({}).errors.map((e) => e.field), ['name', 'parent_volume_id']);
});

test('a volume is full when under 1 % (at most 8 MiB) is left', () => {
  assert.equal(isFull(0, 1e9), false);
  assert.equal(isFull(1e9 - 9 * 1024 * 1024, 1e9), false);
  assert.equal(isFull(1e9 - 4096, 1e9), true);
  assert.equal(isFull(99, 100), true);
  assert.equal(isFull(0, 0), false);
});
