import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_INSTANCE_TYPE, DEFAULT_REGION, INSTANCE_TYPES, REGIONS, REGION_IDS, findInstanceType, formatCatalogSize,
  instanceResources, parseCatalogSize,
} from './catalog.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

test('regions: the six metropolitan regions, all available, default was', () => {
  assert.deepEqual(REGION_IDS, ['fra', 'was', 'par', 'sfo', 'sin', 'tyo']);
  assert.equal(DEFAULT_REGION, 'was');
  for (const r of REGIONS) {
    assert.deepEqual(Object.keys(r), ['id', 'name', 'coordinates', 'status', 'instances', 'datacenters', 'volumes_enabled', 'scope']);
    assert.equal(r.status, 'AVAILABLE');
    assert.equal(r.scope, 'metropolitan');
    assert.equal(r.coordinates.length, 2);
    assert.ok(r.datacenters.length >= 1);
    assert.ok(r.instances.includes('nano'), `${r.id} offers nano`);
  }
});

test('regions list exactly the instance types offered there', () => {
  const byId = Object.fromEntries(REGIONS.map((r) => [r.id, r.instances]));
  assert.ok(byId.fra!.includes('free') && byId.fra!.includes('eco-small'));
  assert.ok(byId.was!.includes('free') && byId.was!.includes('eco-nano'));
  assert.ok(byId.sin!.includes('eco-micro') && !byId.sin!.includes('free'));
  for (const r of ['par', 'sfo', 'tyo']) {
    assert.ok(!byId[r]!.some((t) => t === 'free' || t.startsWith('eco-')), `${r} has only standard types`);
  }
  for (const t of INSTANCE_TYPES) for (const r of t.regions) assert.ok(byId[r]!.includes(t.id));
});

test('instance types: wire shape and the reference sizes and prices', () => {
  const rows: [string, number, string, string, string, string, CatalogType][] = [
    // id, vcpu_shares, memory, disk, price_hourly, price_monthly, type
    ['free', 0.1, '512MB', '2GB', '0', '0', 'free'],
    ['nano', 0.25, '256MB', '2560MB', '0.0036', '2.68', 'standard'],
    ['micro', 0.5, '512MB', '5GB', '0.0072', '5.36', 'standard'],
    ['small', 1, '1GB', '10GB', '0.0144', '10.71', 'standard'],
    ['medium', 2, '2GB', '20GB', '0.0288', '21.43', 'standard'],
    ['large', 4, '4GB', '40GB', '0.0576', '42.85', 'standard'],
    ['xlarge', 8, '8GB', '80GB', '0.1152', '85.71', 'standard'],
    ['2xlarge', 16, '16GB', '160GB', '0.2304', '171.42', 'standard'],
    ['3xlarge', 24, '32GB', '240GB', '0.4608', '342.84', 'standard'],
    ['4xlarge', 32, '64GB', '320GB', '0.9216', '685.67', 'standard'],
    ['5xlarge', 40, '128GB', '400GB', '1.8432', '1371.34', 'standard'],
    ['eco-nano', 0.1, '256MB', '2GB', '0.00216', '1.61', 'eco'],
    ['eco-micro', 0.25, '512MB', '4GB', '0.0036', '2.68', 'eco'],
    ['eco-small', 0.5, '1GB', '8GB', '0.0072', '5.36', 'eco'],
    ['eco-medium', 1, '2GB', '16GB', '0.0144', '10.71', 'eco'],
    ['eco-large', 2, '4GB', '20GB', '0.0288', '21.43', 'eco'],
    ['eco-xlarge', 4, '8GB', '20GB', '0.05759', '42.85', 'eco'],
    ['eco-2xlarge', 8, '16GB', '20GB', '0.1152', '85.71', 'eco'],
  ];
  assert.deepEqual(INSTANCE_TYPES.map((t) => t.id), rows.map((r) => r[0]));
  for (const [id, shares, memory, disk, hourly, monthly, type] of rows) {
    const t = findInstanceType(id)!;
    assert.deepEqual(
      { shares: t.vcpu_shares, memory: t.memory, disk: t.disk, hourly: t.price_hourly, monthly: t.price_monthly, type: t.type },
      { shares, memory, disk, hourly, monthly, type }, id,
    );
    assert.equal(t.vcpu, Math.max(1, Math.round(shares)));
    assert.equal(t.status, 'AVAILABLE');
    assert.deepEqual(t.require_plan, []);
    assert.deepEqual(t.aliases, []);
    assert.equal(typeof t.price_per_second, 'string');
    assert.equal(t.light_sleep_enabled, type === 'standard');
    assert.deepEqual(t.service_types, type === 'free' ? ['web'] : ['web', 'worker']);
    assert.deepEqual(t.regions, type === 'free' ? ['fra', 'was'] : type === 'eco' ? ['fra', 'was', 'sin'] : REGION_IDS);
  }
  assert.equal(findInstanceType('nano')!.price_per_second, '0.000001');
  assert.equal(findInstanceType('eco-nano')!.price_per_second, '0.0000006');
  assert.equal(findInstanceType('free')!.price_per_second, '0');
  assert.equal(findInstanceType('nano')!.display_name, 'Nano');
  assert.equal(findInstanceType('eco-small')!.display_name, 'Eco Small');
  assert.equal(DEFAULT_INSTANCE_TYPE, 'nano');
});

type CatalogType = 'standard' | 'eco' | 'free';

test('instanceResources gives runtime limits in bytes and cores', () => {
  const rows: [string, ReturnType<typeof instanceResources>][] = [
    ['nano', { cpu: 0.25, memoryBytes: 256 * MiB, diskBytes: 2560 * MiB }],
    ['small', { cpu: 1, memoryBytes: 1 * GiB, diskBytes: 10 * GiB }],
    ['5xlarge', { cpu: 40, memoryBytes: 128 * GiB, diskBytes: 400 * GiB }],
    ['free', { cpu: 0.1, memoryBytes: 512 * MiB, diskBytes: 2 * GiB }],
    ['eco-nano', { cpu: 0.1, memoryBytes: 256 * MiB, diskBytes: 2 * GiB }],
    ['gpu-nvidia-l4', undefined],
    ['', undefined],
  ];
  for (const [id, want] of rows) assert.deepEqual(instanceResources(id), want, id);
});

test('catalog sizes format and parse both ways', () => {
  const rows: [string, number | undefined][] = [
    ['256MB', 256 * MiB], ['1GB', GiB], ['2.5GB', 2.5 * GiB], ['1TB', 1024 * GiB], ['5 mb', 5 * MiB], ['lots', undefined], ['', undefined],
  ];
  for (const [text, bytes] of rows) assert.equal(parseCatalogSize(text), bytes, text);
  assert.equal(formatCatalogSize(256), '256MB');
  assert.equal(formatCatalogSize(2048), '2GB');
  assert.equal(formatCatalogSize(2560), '2560MB');
});
