// The compiled Go standard library (src/build/go-std-cache.ts) through the real builder and build sandbox (process
// target: bubblewrap as the build uid): a tenant's build step that writes into its go-build, and tries the seed's
// own host path, changes only its service's private copy; the next service gets a clean copy. The seed here is a
// stand-in placed under the real toolchain's key (no Go compile: a few seconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBuilder } from '../../src/build/builder.ts';
import { goStdSeedKey } from '../../src/build/go-std-cache.ts';
import { hostGoRoot } from '../../src/build/sandbox-docker.ts';
import { gitDeployment, gitRepo, memoryLogs } from './helpers.ts';
import { tempDir } from '../support/temp.ts';

const goRoot = hostGoRoot();

test('a tenant build step cannot modify the Go std seed: it writes only its own copy', { skip: goRoot ? false : 'no go on this host' }, async () => {
  const workDir = tempDir('pier-go-seed-builds-');
  const goStdDir = tempDir('pier-go-seed-');
  const seed = join(goStdDir, goStdSeedKey(goRoot!));
  mkdirSync(join(seed, '0a'), { recursive: true });
  writeFileSync(join(seed, '0a', 'entry-d'), 'compiled by pier\n');
  const entry = '0a/entry-d';
  const command = `cat /cache/go-build/${entry}; echo poisoned > /cache/go-build/${entry}; ` +
    `(echo poisoned > ${seed}/${entry}) 2>/dev/null && echo SEED-WRITABLE; ` +
    `(ls -d ${goStdDir}) 2>/dev/null && echo SEED-VISIBLE; echo STEP-DONE`;
  const repo = gitRepo({ 'go.mod': 'module example.com/app\n\ngo 1.21\n', 'main.go': 'package main\nfunc main() {}\n' });
  const build = async (d: ReturnType<typeof gitDeployment>) => {
    const logs = memoryLogs();
    await createBuilder({ target: 'directory', workDir, appendLogs: logs.sink, goStdDir }).build(d, new AbortController().signal);
    return logs.text();
  };

  const first = gitDeployment({ repository: repo, build_command: command });
  const log = await build(first);
  assert.match(log, /using the Go standard library compiled for go/);
  assert.match(log, /^compiled by pier$/m, 'the step saw the copy');
  assert.match(log, /^STEP-DONE$/m);
  assert.doesNotMatch(log, /^(SEED-WRITABLE|SEED-VISIBLE)$/m);
  assert.doesNotMatch(log, /compiling the Go standard library/, 'the stand-in seed was used, not remade');
  assert.equal(readFileSync(join(seed, entry), 'utf8'), 'compiled by pier\n', 'the seed is unchanged');
  assert.equal(readFileSync(join(workDir, 'cache', first.service_id, 'go-build', entry), 'utf8'), 'poisoned\n', 'the service\'s own copy took the write');

  // Another tenant's service starts from the clean seed, not from what the first one wrote.
  const other = gitDeployment({ repository: repo, build_command: `cat /cache/go-build/${entry}` });
  assert.match(await build(other), /^compiled by pier$/m);
  assert.equal(readFileSync(join(workDir, 'cache', other.service_id, 'go-build', entry), 'utf8'), 'compiled by pier\n');
});
