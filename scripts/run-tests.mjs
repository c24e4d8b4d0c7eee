#!/usr/bin/env node
// Finds every *.test.ts under src/ and test/ and runs them with node's test runner through tsx.
// `--fast` skips the suites that need a real engine (files named *.docker.test.ts or *.slow.test.ts).
// Any other argument is a substring filter on the file path.
import { chmodSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const fast = args.includes('--fast');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = [...walk(join(root, 'src'), []), ...walk(join(root, 'test'), [])].sort();
if (fast) files = files.filter((f) => !/\.(docker|slow)\.test\.ts$/.test(f));
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) { console.error('no test files matched'); process.exit(1); }

// Two rounds. The files that need no engine (pure code, in-process servers on ephemeral loopback ports, temporary
// directories) run two at a time: node's default is one per core less one, i.e. one at a time on a 2-core machine,
// where most of a unit file's second is tsx starting up. The engine suites (containers, VMs, builds, clusters) then
// run one at a time, as before: they share the host's engine, bridges and cgroups and time their own waits.
const engine = (f) => /\.(docker|slow)\.test\.ts$/.test(f);
const rounds = [
  { files: files.filter((f) => !engine(f)), concurrency: 2 },
  { files: files.filter(engine), concurrency: 1 },
].filter((r) => r.files.length > 0);

// Every temporary file of the run (the suites' mkdtemp directories, builds' checkouts, their tools' own temp files) goes
// under one directory that is removed when the run ends, pass or fail: a full run used to leave ~0.9 GB of
// directories in /tmp. Sticky and world-writable as /tmp is (sandboxed instances and build users reach theirs), and a
// short name (unix socket paths under it stay far below their 108-byte limit).
const runTmp = mkdtempSync(join(tmpdir(), 'pt-'));
chmodSync(runTmp, 0o1777);
let child;
function removeRunTmp() {
  // --one-file-system: a mount a test left under it (a volume's loop mount) is not descended into.
  spawnSync('rm', ['-rf', '--one-file-system', '--', runTmp], { stdio: 'ignore' });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (!child) { removeRunTmp(); process.exit(1); }
    child.once('exit', () => { removeRunTmp(); process.exit(1); });
    child.kill(sig);
  });
}

function run({ files: batch, concurrency }) {
  return new Promise((resolve) => {
    child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...batch], {
      // The suites start Pier on the Node edge unless PIER_EDGE_DATAPLANE names a data plane (so a build or volume
      // suite does not change data plane with what the machine has installed); the edge suites choose theirs, both.
      cwd: root, stdio: 'inherit', env: { ...process.env, PIER_TEST: '1', PIER_EDGE_DATAPLANE: process.env.PIER_EDGE_DATAPLANE || 'node', TMPDIR: runTmp },
    });
    child.on('exit', (code, signal) => { child = undefined; resolve(signal ? 1 : code ?? 1); });
  });
}

let failed = 0;
for (const round of rounds) {
  const code = await run(round);
  if (code !== 0) failed = code;
}
removeRunTmp();
process.exit(failed);
