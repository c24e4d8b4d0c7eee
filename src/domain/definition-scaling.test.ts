import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';

const WEB = { docker: { image: 'nginx' }, ports: [{ port: 8000 }] };
type Want = [string, RegExp][];

function check(input: Record<string, unknown>, want: Want, ctx = {}) {
  const label = JSON.stringify(input);
  const { errors, definition } = normalizeDefinition({ ...WEB, ...input }, ctx);
  assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), `${label}\n${JSON.stringify(errors, null, 1)}`);
  want.forEach(([, re], i) => assert.match(errors[i]!.description, re, label));
  return definition;
}

test('regions: default, allowed subset, unique, non-empty', () => {
  assert.deepEqual(check({}, []).regions, ['was']);
  assert.deepEqual(check({ regions: ['fra', 'sin'] }, []).regions, ['fra', 'sin']);
  assert.deepEqual(check({}, [], { regions: ['fra', 'par'] }).regions, ['fra'], 'first allowed when was is not');
  const rows: [unknown, Want, object?][] = [
    [[], [['definition.regions', /must list at least one region, e.g. \["was"\]/]]],
    [['mars'], [['definition.regions[0]', /unknown region "mars": use one of fra, was, par, sfo, sin, tyo/]]],
    [['fra', 'fra'], [['definition.regions[1]', /region fra is listed twice/]]],
    [['was'], [['definition.regions[0]', /unknown region "was": use one of fra, par/]], { regions: ['fra', 'par'] }],
    ['fra', [['definition.regions', /must be a list/]]],
  ];
  for (const [regions, want, ctx] of rows) check({ regions }, want, ctx);
});

test('instance types: catalog ids, availability, service type, one per region', () => {
  const rows: [Record<string, unknown>, Want][] = [
    [{ instance_types: [{ type: 'gpu-nvidia-h100' }] }, [['definition.instance_types[0].type', /unknown instance type "gpu-nvidia-h100": use one of free, nano/]]],
    [{ instance_types: [{}] }, [['definition.instance_types[0].type', /is required/]]],
    [{ regions: ['par'], instance_types: [{ type: 'eco-small' }] }, [['definition.instance_types[0].type', /eco-small is not available in par; it is offered in fra, was, sin/]]],
    [{ type: 'WORKER', ports: [], instance_types: [{ type: 'free' }], scalings: [{ min: 1, max: 1 }] }, [['definition.instance_types[0].type', /only runs web services/]]],
    [{ instance_types: [{ type: 'nano' }, { type: 'small' }] }, [['definition.instance_types[1]', /another instance type already applies without scopes \(definition.instance_types\[0\]\): keep one per region/]]],
    [{ regions: ['fra', 'was'], instance_types: [{ type: 'nano', scopes: ['region:fra'] }, { type: 'small', scopes: ['region:fra', 'region:was'] }] },
      [['definition.instance_types[1]', /already applies to region:fra/]]],
    [{ regions: ['fra', 'was'], instance_types: [{ type: 'nano', scopes: ['region:fra'] }] }, [['definition.instance_types', /no instance type applies to region was: add one without scopes or one scoped to region:was/]]],
    [{ instance_types: [{ type: 'nano', scopes: ['fra'] }] }, [['definition.instance_types[0].scopes[0]', /must be "region:<id>"/]]],
    [{ instance_types: [{ type: 'nano', scopes: ['region:par'] }] }, [['definition.instance_types[0].scopes[0]', /names a region the service does not run in: add par to regions/]]],
  ];
  for (const [input, want] of rows) check(input, want);
  assert.deepEqual(check({ instance_types: [] }, []).instance_types, [{ type: 'nano' }]);
  const scoped = check({
    regions: ['fra', 'was'],
    instance_types: [{ type: 'small' }, { scopes: ['region:fra'], type: 'eco-small' }],
    scalings: [{ min: 2, max: 2 }],
  }, []);
  assert.equal(JSON.stringify(scoped.instance_types), JSON.stringify([{ type: 'small' }, { scopes: ['region:fra'], type: 'eco-small' }]));
});

test('scalings: bounds, targets, scale to zero, one per region', () => {
  const rows: [unknown, Want, Record<string, unknown>?][] = [
    [[{ min: 3, max: 2 }], [['definition.scalings[0].min', /min 3 is greater than max 2: lower min or raise max/]]],
    [[{ min: 0, max: 0 }], [['definition.scalings[0].max', /between 1 and 20/]]],
    [[{ min: 1, max: 21 }], [['definition.scalings[0].max', /between 1 and 20, got 21/]]],
    [[{ min: -1, max: 1 }], [['definition.scalings[0].min', /between 0 and 20/]]],
    [[{ max: 1 }], [['definition.scalings[0].min', /is required/]]],
    [[{ min: 1 }], [['definition.scalings[0].max', /is required/]]],
    [[{ min: 1, max: 3, targets: [{ average_cpu: { value: 0 } }] }], [['definition.scalings[0].targets[0].average_cpu.value', /between 1 and 100 %/]]],
    [[{ min: 1, max: 3, targets: [{ average_mem: { value: 101 } }] }], [['definition.scalings[0].targets[0].average_mem.value', /between 1 and 100/]]],
    [[{ min: 1, max: 3, targets: [{ requests_per_second: {} }] }], [['definition.scalings[0].targets[0].requests_per_second.value', /is required/]]],
    [[{ min: 1, max: 3, targets: [{ concurrent_requests: { value: 2e9 } }] }], [['definition.scalings[0].targets[0].concurrent_requests.value', /between 1 and 1000000000/]]],
    [[{ min: 1, max: 3, targets: [{ requests_response_time: { value: 300, quantile: 0 } }] }], [['definition.scalings[0].targets[0].requests_response_time.quantile', /between 1 and 100/]]],
    [[{ min: 1, max: 3, targets: [{ average_cpu: { value: 80 } }, { average_cpu: { value: 70 } }] }], [['definition.scalings[0].targets[1].average_cpu', /already set in definition.scalings\[0\].targets\[0\]/]]],
    [[{ min: 1, max: 3, targets: [{ gpu: { value: 1 } }] }], [['definition.scalings[0].targets[0].gpu', /unknown field/]]],
    [[{ min: 1, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 60 } }] }], [['definition.scalings[0].targets[0].sleep_idle_delay', /only applies when min is 0 .*: set min to 0 or remove/]]],
    [[{ min: 0, max: 1, targets: [{ sleep_idle_delay: { value: 60, deep_sleep_value: 120 } }] }], [['definition.scalings[0].targets[0].sleep_idle_delay.value', /conflicts with deep_sleep_value \(120\)/]]],
    [[{ min: 0, max: 1, targets: [{ sleep_idle_delay: { light_sleep_value: 600, deep_sleep_value: 300 } }] }], [['definition.scalings[0].targets[0].sleep_idle_delay.light_sleep_value', /must come before deep sleep/]]],
    [[{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 43201 } }] }], [['definition.scalings[0].targets[0].sleep_idle_delay.deep_sleep_value', /between 1 and 43200 seconds/]]],
    [[{ min: 0, max: 1 }], [['definition.scalings[0].min', /workers cannot scale to zero/]], { type: 'WORKER', ports: [] }],
    [[{ min: 1, max: 1 }, { min: 2, max: 2 }], [['definition.scalings[1]', /another scaling already applies without scopes/]]],
    [[{ min: 1, max: 2, targets: [{ average_cpu: { value: 80 } }] }], [['definition.scalings', /eco instances \(eco-small in was\) do not autoscale/]], { instance_types: [{ type: 'eco-small' }] }],
  ];
  for (const [scalings, want, extra] of rows) check({ ...extra, scalings }, want);
});

test('scalings: defaults and canonical forms', () => {
  const rows: [unknown, unknown][] = [
    [undefined, [{ min: 1, max: 1 }]],
    [[], [{ min: 1, max: 1 }]],
    [[{ min: 2, max: 2 }], [{ min: 2, max: 2 }]],
    [[{ min: 2, max: 2, targets: [] }], [{ min: 2, max: 2 }]],
    // min 0 / max 1 wakes on traffic: no other target needed; the idle delay defaults to 300 s.
    [[{ min: 0, max: 1 }], [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 300 } }] }]],
    [[{ min: 0, max: 1, targets: [{ sleep_idle_delay: { value: 120 } }] }], [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 120 } }] }]],
    // min < max without a target autoscales on Koyeb's default (what koyeb --min-scale 1 --max-scale 3 sends).
    [[{ min: 1, max: 3 }], [{ min: 1, max: 3, targets: [{ requests_per_second: { value: 50 } }] }]],
    [[{ min: 1, max: 3, targets: [] }], [{ min: 1, max: 3, targets: [{ requests_per_second: { value: 50 } }] }]],
    [[{ min: 0, max: 3, targets: [{ sleep_idle_delay: { deep_sleep_value: 60 } }] }],
      [{ min: 0, max: 3, targets: [{ requests_per_second: { value: 50 } }, { sleep_idle_delay: { deep_sleep_value: 60 } }] }]],
    [[{ min: 0, max: 1, targets: [{ sleep_idle_delay: { light_sleep_value: 60 } }] }], [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 3660, light_sleep_value: 60 } }] }]],
    [[{ min: 1, max: 5, targets: [{ requests_response_time: { value: 300 } }, { requests_per_second: { value: 50 } }] }],
      [{ min: 1, max: 5, targets: [{ requests_response_time: { value: 300, quantile: 95 } }, { requests_per_second: { value: 50 } }] }]],
    [[{ min: '1', max: '4', targets: [{ average_cpu: { value: '80' }, average_mem: { value: 70 } }] }],
      [{ min: 1, max: 4, targets: [{ average_cpu: { value: 80 }, average_mem: { value: 70 } }] }]],
  ];
  for (const [scalings, want] of rows) {
    assert.equal(JSON.stringify(check({ scalings }, []).scalings), JSON.stringify(want), JSON.stringify(scalings));
  }
  // A worker has no requests to count: its default target is CPU; normalizing the result again changes nothing.
  const worker = check({ type: 'WORKER', ports: [], scalings: [{ min: 1, max: 2 }] }, []);
  assert.equal(JSON.stringify(worker.scalings), JSON.stringify([{ min: 1, max: 2, targets: [{ average_cpu: { value: 80 } }] }]));
  assert.equal(JSON.stringify(check({ ...worker }, []).scalings), JSON.stringify(worker.scalings));
  const perRegion = check({
    regions: ['fra', 'was'],
    scalings: [{ scopes: ['region:fra'], min: 1, max: 1 }, { scopes: ['region:was'], min: 2, max: 2 }],
  }, []);
  assert.deepEqual(perRegion.scalings.map((s) => s.scopes), [['region:fra'], ['region:was']]);
  check({ regions: ['fra', 'was'], scalings: [{ scopes: ['region:fra'], min: 1, max: 1 }] },
    [['definition.scalings', /no scaling applies to region was/]]);
});
