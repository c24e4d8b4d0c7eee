// The compiled-std seed's bookkeeping with a stand-in seeding step (no Go compile): one seeding for concurrent
// builds, nothing half-made ever used, private copies (not links), and what a service cache already has left alone.
// The real sandbox (a tenant step cannot reach the seed) is test/build/go-std-seed.slow.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goPlan, GO_BUILD_FLAGS } from './buildpacks/go.ts';
import { copyGoStdSeed, ensureGoStdSeed, goStdSeedKey, GO_STD_SEED_COMMAND, GO_STD_SEEDING_MESSAGE, prepareGoCache, type SeedStepRunner } from './go-std-cache.ts';
import { tempDir } from '../../test/support/temp.ts';

function goRoot(version = 'go1.99.1'): string {
  const dir = tempDir('pier-goroot-');
  writeFileSync(join(dir, 'VERSION'), `${version}\ntime 2026-01-01T00:00:00Z\n`);
  return dir;
}

/** A seeding step that writes a small go-build tree into the cache it is given, after `delayMs`. */
function fakeStep(calls: string[], o: { delayMs?: number; fail?: boolean } = {}): SeedStepRunner {
  return async (command, appDir, cacheDir) => {
    calls.push(command);
    assert.deepEqual(readdirSync(appDir), [], 'the seeding step gets an empty app directory, nothing of a tenant');
    mkdirSync(join(cacheDir, 'go-build', '0a'), { recursive: true });
    writeFileSync(join(cacheDir, 'go-build', '0a', 'entry-d'), 'compiled');
    await new Promise((r) => setTimeout(r, o.delayMs ?? 0));
    if (o.fail) throw new Error('step failed with exit code 1');
  };
}

test('the seed is compiled with the flags of the default Go builds, and keyed by toolchain and command', () => {
  const plan = goPlan({ files: { exists: () => false, read: () => undefined }, o: {}, target: 'image', chosen: (f) => f!, build: (d) => d, overrideRun: false });
  assert.ok(plan.hostCommands.every((c) => c.startsWith(`go build ${GO_BUILD_FLAGS} `)), plan.hostCommands.join());
  assert.ok(GO_STD_SEED_COMMAND.startsWith(`go build ${GO_BUILD_FLAGS} `) && GO_STD_SEED_COMMAND.includes(' net/http '));
  const a = goRoot('go1.99.1');
  const key = goStdSeedKey(a);
  assert.match(key, /^go1\.99\.1-/);
  assert.equal(goStdSeedKey(a), key);
  writeFileSync(join(a, 'VERSION'), 'go1.99.2\n');
  assert.notEqual(goStdSeedKey(a).split('-').pop(), key.split('-').pop(), 'another toolchain in the same place, another seed');
  writeFileSync(join(a, 'VERSION'), 'go1.99.1\n');
  assert.notEqual(goStdSeedKey(a, 'go build std'), key, 'other packages or flags, another seed');
  assert.notEqual(goStdSeedKey(a, GO_STD_SEED_COMMAND, 'arm64'), key);
});

test('two first builds at once share one seeding; the seed is complete and the temporary directory gone', async () => {
  const dir = tempDir('pier-go-std-');
  const root = goRoot();
  const calls: string[] = [];
  const lines: string[] = [];
  const o = { dir, goRoot: root, runStep: fakeStep(calls, { delayMs: 50 }), log: (l: string) => lines.push(l), command: 'fake seed' };
  const [s1, s2] = await Promise.all([ensureGoStdSeed(o), ensureGoStdSeed(o)]);
  assert.equal(calls.length, 1);
  assert.ok(s1 && s1 === s2);
  assert.equal(readFileSync(join(s1, '0a', 'entry-d'), 'utf8'), 'compiled');
  assert.deepEqual(readdirSync(dir), [goStdSeedKey(root, 'fake seed')]);
  assert.ok(lines.includes(GO_STD_SEEDING_MESSAGE), lines.join('\n'));
  if (process.getuid?.() === 0) assert.equal(lstatSync(join(s1, '0a', 'entry-d')).uid, 0, 'the seed is Pier\'s, not the build uid\'s');
  // Made once: the next build finds it without a step.
  assert.equal(await ensureGoStdSeed(o), s1);
  assert.equal(calls.length, 1);
});

test('a failed seeding leaves no seed (never half a cache) and the build goes on; the next build tries again', async () => {
  const dir = tempDir('pier-go-std-');
  const root = goRoot();
  const calls: string[] = [];
  const lines: string[] = [];
  const cacheDir = tempDir('pier-go-svc-');
  await prepareGoCache({ dir, goRoot: root, cacheDir, runStep: fakeStep(calls, { fail: true }), log: (l) => lines.push(l), command: 'fake seed', makes: true });
  assert.deepEqual(readdirSync(dir), [], 'no seed and no temporary directory');
  assert.ok(!existsSync(join(cacheDir, 'go-build')));
  assert.ok(lines.some((l) => /not cached \(step failed/.test(l)), lines.join('\n'));
  // Anything else in the directory (an operator's PIER_BUILD_GO_STD_DIR may hold other things) stays.
  const old = new Date(Date.now() - 2 * 3600_000);
  for (const name of ['.tmp-0123456789ab', '.tmp-abcdefabcdef', 'go1.0.0-x64-0123456789abcdef', 'notes']) mkdirSync(join(dir, name));
  utimesSync(join(dir, '.tmp-0123456789ab'), old, old);
  await prepareGoCache({ dir, goRoot: root, cacheDir, runStep: fakeStep(calls), log: (l) => lines.push(l), command: 'fake seed', makes: true });
  assert.deepEqual(readdirSync(dir).sort(), ['.tmp-abcdefabcdef', goStdSeedKey(root, 'fake seed'), 'notes'].sort(), 'an old temporary directory and another toolchain\'s seed are removed; a live one and other files stay');
  assert.equal(readFileSync(join(cacheDir, 'go-build', '0a', 'entry-d'), 'utf8'), 'compiled');
});

test('a build that does not build with the default flags uses an existing seed but never makes one', async () => {
  const dir = tempDir('pier-go-std-');
  const root = goRoot();
  const calls: string[] = [];
  const o = { dir, goRoot: root, runStep: fakeStep(calls), log: () => {}, command: 'fake seed' };
  const first = tempDir('pier-go-svc-');
  await prepareGoCache({ ...o, cacheDir: first, makes: false });
  assert.equal(calls.length, 0);
  assert.ok(!existsSync(join(first, 'go-build')));
  await ensureGoStdSeed(o);
  await prepareGoCache({ ...o, cacheDir: first, makes: false });
  assert.equal(readFileSync(join(first, 'go-build', '0a', 'entry-d'), 'utf8'), 'compiled');
  assert.equal(calls.length, 1);
});

test('a service cache gets a private copy: new files, not links; writing it leaves the seed alone', () => {
  const seed = tempDir('pier-seed-');
  mkdirSync(join(seed, '0a'));
  writeFileSync(join(seed, '0a', 'entry-d'), 'compiled');
  const cacheDir = join(tempDir('pier-go-svc-'), 'svc');
  mkdirSync(cacheDir);
  assert.equal(copyGoStdSeed(seed, cacheDir), true);
  const copy = join(cacheDir, 'go-build', '0a', 'entry-d');
  assert.notEqual(lstatSync(copy).ino, lstatSync(join(seed, '0a', 'entry-d')).ino);
  assert.equal(lstatSync(copy).nlink, 1);
  writeFileSync(copy, 'poisoned');
  assert.equal(readFileSync(join(seed, '0a', 'entry-d'), 'utf8'), 'compiled');
  assert.deepEqual(readdirSync(join(cacheDir, '..')), ['svc'], 'no staging directory left beside the cache');
  // A cache that has a go-build already keeps it, also when a step planted it as a link: it is not followed.
  assert.equal(copyGoStdSeed(seed, cacheDir), false);
  const other = join(tempDir('pier-go-svc-'), 'svc');
  mkdirSync(other);
  const elsewhere = tempDir('pier-elsewhere-');
  symlinkSync(elsewhere, join(other, 'go-build'));
  assert.equal(copyGoStdSeed(seed, other), false);
  assert.deepEqual(readdirSync(elsewhere), []);
});
