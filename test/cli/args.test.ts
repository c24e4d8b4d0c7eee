import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, parseArgs, UsageError, type FlagSpec } from '../../src/cli/args.ts';
import { formatDuration, parseDurationMs } from '../../src/cli/duration.ts';

const SPECS: FlagSpec[] = [
  { name: 'app', short: 'a', kind: 'string', help: '' },
  { name: 'wait', kind: 'bool', help: '' },
  { name: 'scale', kind: 'int', help: '' },
  { name: 'env', kind: 'list', help: '' },
  { name: 'ports', kind: 'list', aliases: ['port'], help: '' },
  { name: 'regions', kind: 'list', aliases: ['region'], split: true, help: '' },
  { name: 'output', short: 'o', kind: 'string', help: '' },
  { name: 'help', short: 'h', kind: 'bool', help: '' },
];

test('parses long flags with = and with a separate value, and positionals around them', () => {
  const a = parseArgs(['svc', '--app=shop', '--scale', '3', 'extra'], SPECS);
  assert.deepEqual(a.positionals, ['svc', 'extra']);
  assert.equal(a.str('app'), 'shop');
  assert.equal(a.int('scale'), 3);
  assert.equal(a.has('wait'), false);
  assert.equal(a.bool('wait'), false);
});

test('short flags: -a VALUE, -aVALUE and -a=VALUE', () => {
  assert.equal(parseArgs(['-a', 'x'], SPECS).str('app'), 'x');
  assert.equal(parseArgs(['-ojson'], SPECS).str('output'), 'json');
  assert.equal(parseArgs(['-o=yaml'], SPECS).str('output'), 'yaml');
  assert.equal(parseArgs(['-h'], SPECS).bool('help'), true);
});

test('bool flags take no value unless given with =', () => {
  const a = parseArgs(['--wait', 'name'], SPECS);
  assert.equal(a.bool('wait'), true);
  assert.deepEqual(a.positionals, ['name']);
  assert.equal(parseArgs(['--wait=false'], SPECS).has('wait'), true);
  assert.equal(parseArgs(['--wait=false'], SPECS).bool('wait'), false);
  assert.throws(() => parseArgs(['--wait=maybe'], SPECS), UsageError);
});

test('list flags repeat in order, aliases share the canonical name, split flags split on commas', () => {
  const a = parseArgs(['--env', 'A=1', '--port', '80', '--env', '!B', '--ports=90:tcp', '--region', 'fra,was', '--regions', '!par'], SPECS);
  assert.deepEqual(a.list('env'), ['A=1', '!B']);
  assert.deepEqual(a.list('ports'), ['80', '90:tcp']);
  assert.deepEqual(a.list('regions'), ['fra', 'was', '!par']);
  assert.equal(a.list('missing'), undefined);
});

test('a value that starts with - is taken as the value of the flag before it', () => {
  assert.equal(parseArgs(['--app', '-weird'], SPECS).str('app'), '-weird');
});

test('-- ends flags: everything after is positional', () => {
  const a = parseArgs(['x', '--', '--app', 'y'], SPECS);
  assert.deepEqual(a.positionals, ['x', '--app', 'y']);
  assert.equal(a.has('app'), false);
});

test('a repeated string flag keeps the last value', () => {
  assert.equal(parseArgs(['--app', 'a', '--app', 'b'], SPECS).str('app'), 'b');
});

test('errors: unknown flag with a suggestion, missing value, non-integer', () => {
  assert.throws(() => parseArgs(['--prot', '80'], SPECS), { name: 'UsageError', message: 'unknown flag --prot; did you mean --port?' });
  assert.throws(() => parseArgs(['--zzzzzz'], SPECS), { message: 'unknown flag --zzzzzz' });
  assert.throws(() => parseArgs(['-x'], SPECS), { message: 'unknown flag -x' });
  assert.throws(() => parseArgs(['--app'], SPECS), { message: 'flag --app needs a value' });
  assert.throws(() => parseArgs(['--scale', 'two'], SPECS), { message: 'flag --scale needs an integer, not "two"' });
  assert.throws(() => parseArgs(['-hx'], SPECS), UsageError);
});

test('closest finds near typos and prefixes only', () => {
  assert.equal(closest('regoins', ['regions', 'routes']), 'regions');
  assert.equal(closest('instanc', ['instance-type', 'env']), 'instance-type');
  assert.equal(closest('qqq', ['regions']), undefined);
});

test('Go-style durations', () => {
  const rows: [string, number | undefined][] = [
    ['5m', 300_000], ['1h30m', 5_400_000], ['90s', 90_000], ['0', 0], ['45', 45_000], ['1.5h', 5_400_000], ['250ms', 250],
    ['5 minutes', undefined], ['', undefined], ['m', undefined], ['-5m', undefined],
  ];
  for (const [text, ms] of rows) assert.equal(parseDurationMs(text), ms, text);
  assert.equal(formatDuration(300_000), '5m');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(61_000), '1m1s');
  assert.equal(formatDuration(0), '0ms');
});
