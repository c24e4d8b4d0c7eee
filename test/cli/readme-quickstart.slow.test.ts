// The README's quick start, run as a new user would (issue #21, "Done when"): the fenced ```sh blocks under
// "## Quick start" are read from README.md of a fresh `git clone` of this repository and run there, in order, with
// bash. It checks that `./pier up` prints the URL it serves and that URL answers, that the function the README
// deploys answers through the edge over HTTP and HTTPS with the output the README's comment shows, and stops what it
// started (pier up by PID; the containers, networks and images of this installation by its scope label).
//
// The smallest changes needed to run the commands in a test, all here:
// - HOME is a temp directory (so `~/.pier` is fresh) and `./pier up` gets free ports through its documented env
//   (PIER_API_ADDR, PIER_EDGE_ADDR, PIER_TLS_ADDR); other PIER_* variables of the test process are removed. URLs in
//   the commands have :7700, :8000, :8443 replaced by those ports and /tmp/hello.ts by a file in the temp directory.
// - `./pier up` blocks, so it runs in the background; the next block starts once it printed "Pier is up".
// - The clone reuses this tree's node_modules as a hard-linked copy (no `npm ci`: no registry in tests), and its
//   package-lock.json gets the copy's date so the launcher does not reinstall.
// - `npm test` is not run (it is the whole suite, this test among it).
// - The block that deploys nginx:1.27 needs a registry the test machine lacks; it runs only when the engine already
//   has that image (it has a `<id of version 1>` placeholder too, so only its first two commands run then).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/ports.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** One command of a fenced block: the command line and its trailing `# comment`, if any. */
interface Line { cmd: string; comment: string }

/** The ```sh blocks of the section under `## Quick start` (up to the next `## ` heading), as command lines. */
export function quickStartBlocks(readme: string): Line[][] {
  const start = readme.search(/^## Quick start\s*$/m);
  assert.ok(start >= 0, 'README.md has a "## Quick start" heading');
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const blocks: Line[][] = [];
  for (const m of section.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)) {
    blocks.push(m[1]!.split('\n').filter((l) => l.trim()).map((l) => {
      // A comment starts at " #" outside quotes; the README's commands put theirs after two or more spaces.
      const c = /\s{2,}#\s?(.*)$/.exec(l);
      return c ? { cmd: l.slice(0, c.index).trim(), comment: c[1]!.trim() } : { cmd: l.trim(), comment: '' };
    }));
  }
  return blocks;
}


function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Runs one command line with bash in the clone; resolves with its exit code and output (bounded in time). */
function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

function docker(args: string[]): string {
  try { return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 }); } catch { return ''; }
}

test('the README quick start runs on a fresh clone', { timeout: 180_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'pier-quickstart-'));
  const clone = join(tmp, 'pier');
  const home = join(tmp, 'home');
  let up: ChildProcess | undefined;
  let upLog = '';
  t.after(async () => {
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGINT');
      const kill = setTimeout(() => up?.kill('SIGKILL'), 20_000);
      await exited(up);
      clearTimeout(kill);
    }
    // Instances outlive the control plane by design; remove what this installation made.
    let scope = '';
    try { scope = readFileSync(join(home, '.pier', 'installation-id'), 'utf8').trim(); } catch { /* never started */ }
    if (/^[0-9a-f-]{36}$/.test(scope)) {
      const label = `label=dev.pier.scope=${scope}`;
      const ids = (args: string[]) => docker(args).split('\n').filter(Boolean);
      const containers = ids(['ps', '-aq', '--filter', label]);
      if (containers.length) docker(['rm', '-f', ...containers]);
      const networks = ids(['network', 'ls', '-q', '--filter', label]);
      if (networks.length) docker(['network', 'rm', ...networks]);
      const images = ids(['images', '-q', '--filter', label]);
      if (images.length) docker(['rmi', '-f', ...new Set(images)]);
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  execFileSync('git', ['clone', '-q', REPO, clone], { timeout: 60_000 });
  execFileSync('cp', ['-al', join(REPO, 'node_modules'), join(clone, 'node_modules')]);
  execFileSync('touch', ['-r', join(clone, 'node_modules', '.package-lock.json'), join(clone, 'package-lock.json')]);
  execFileSync('mkdir', [home]);

  const [api, edge, tls] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8', TERM: 'dumb' };
  const upEnv = { ...env, PIER_API_ADDR: `127.0.0.1:${api}`, PIER_EDGE_ADDR: `127.0.0.1:${edge}`, PIER_TLS_ADDR: `127.0.0.1:${tls}` };
  const adapt = (cmd: string) => cmd.replaceAll(':7700', `:${api}`).replaceAll(':8000', `:${edge}`).replaceAll(':8443', `:${tls}`)
    .replaceAll('/tmp/hello.ts', join(tmp, 'hello.ts'));

  const blocks = quickStartBlocks(readFileSync(join(clone, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 2, `quick start has its blocks (found ${blocks.length})`);
  const ran: string[] = [];
  let functionDeployed = false;

  for (const block of blocks) {
    const dockerBlock = block.some((l) => /--docker nginx:1\.27/.test(l.cmd));
    if (dockerBlock && !docker(['image', 'inspect', '-f', '{{.Id}}', 'nginx:1.27']).trim()) {
      t.diagnostic(`skipped (no nginx:1.27 in the engine and no registry): ${block.map((l) => l.cmd).join(' ; ')}`);
      continue;
    }
    let lastExpected = '';
    for (const [i, { cmd, comment }] of block.entries()) {
      if (dockerBlock && i >= 2) break;
      if (cmd === 'npm test') continue;
      if (cmd === './pier up') {
        up = spawn('bash', ['-c', cmd], { cwd: clone, env: upEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        up.stdout!.on('data', (c: Buffer) => (upLog += c));
        up.stderr!.on('data', (c: Buffer) => (upLog += c));
        const deadline = Date.now() + 90_000;
        let url = '';
        while (!url && Date.now() < deadline && up.exitCode === null) {
          url = /Pier is up: API (http:\/\/\S+)/.exec(upLog)?.[1] ?? '';
          if (!url) await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(url, `./pier up printed its URL:\n${upLog}`);
        assert.equal(url, `http://127.0.0.1:${api}`);
        // The printed URL serves the console (and the API beside it).
        const page = await fetch(`${url}/`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<html/i);
        assert.equal((await fetch(`${url}/health`)).status, 200);
        // As the README says: state and credentials under ~/.pier, the credentials file private.
        assert.equal(statSync(join(home, '.pier', 'credentials.json')).mode & 0o777, 0o600);
        ran.push(cmd);
        continue;
      }
      const adapted = adapt(cmd);
      const r = await sh(adapted, clone, env, 120_000);
      assert.equal(r.code, 0, `${adapted} exited ${r.code}:\n${r.out}\n${r.err}\n--- pier up:\n${upLog}`);
      ran.push(adapted);
      if (/^\.\/pier function deploy/.test(cmd)) {
        // "waits, then prints the URL": the app's URL on the edge.
        assert.match(r.out, new RegExp(`URL: http://demo-pier\\.localhost:${edge}/`), r.out);
        functionDeployed = true;
      }
      if (/^curl /.test(cmd)) {
        // The comment after a curl is its output; a curl without one repeats the previous one's.
        const expected = comment || lastExpected;
        lastExpected = expected;
        assert.ok(expected, `the README shows what ${cmd} prints`);
        assert.equal(r.out.trim(), expected, `${adapted}`);
      }
    }
  }
  assert.ok(up, 'the quick start starts ./pier up');
  assert.ok(functionDeployed, 'the quick start deploys the function');
  assert.ok(ran.some((c) => c.startsWith('curl') && c.includes('https://')), 'HTTPS through the edge was tried');
  t.diagnostic(`ran: ${ran.join(' ; ')}`);

  // Ctrl-C stops pier up cleanly.
  up.kill('SIGINT');
  const kill = setTimeout(() => up?.kill('SIGKILL'), 20_000);
  await exited(up);
  clearTimeout(kill);
  assert.equal(up.exitCode, 0, upLog);
  assert.match(upLog, /stopped/);
  writeFileSync(join(tmp, 'up.log'), upLog);
});
