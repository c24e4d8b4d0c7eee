// Shared helpers of the build tests: real git repositories made in a temp dir, a deployment row for a git source,
// a log sink that keeps lines in memory, and a run of a built result on a real runtime answering HTTP.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Deployment, GitSource } from '../../src/domain/types.ts';
import type { BuildLogLine } from '../../src/build/logs.ts';
import type { Runtime } from '../../src/runtime/contract.ts';
import { tempDir } from '../support/temp.ts';

/**
 * Where the test suites keep the Go standard library compiled for this host's toolchain (src/build/go-std-cache.ts):
 * one place for every suite and run, so a test run compiles it at most once instead of in every first Go build.
 */
export const TEST_GO_STD_DIR = join(tmpdir(), 'pier-test-go-std');

/** Creates a git repository with `files` committed on `main` (plus optional further branches); returns its path. */
export function gitRepo(files: Record<string, string>, message = 'initial commit', branches: Record<string, Record<string, string>> = {}): string {
  const dir = tempDir('pier-build-repo-');
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=Test Author', '-c', 'user.email=t@example.com', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  const write = (fs: Record<string, string>) => {
    for (const [p, text] of Object.entries(fs)) { mkdirSync(dirname(join(dir, p)), { recursive: true }); writeFileSync(join(dir, p), text); }
  };
  write(files);
  git('add', '-A');
  git('commit', '-q', '-m', message);
  for (const [name, fs] of Object.entries(branches)) {
    git('checkout', '-q', '-b', name);
    write(fs);
    git('add', '-A');
    git('commit', '-q', '-m', `commit on ${name}`);
    git('checkout', '-q', 'main');
  }
  return dir;
}

/** The sha of a ref in a test repository. */
export function revParse(dir: string, ref: string): string {
  return execFileSync('git', ['rev-parse', ref], { cwd: dir, encoding: 'utf8' }).trim();
}

/** A deployment row of a git source (only the fields the builder reads are meaningful). */
export function gitDeployment(git: GitSource, over: Partial<Deployment['definition']> = {}): Deployment {
  const now = new Date().toISOString();
  return {
    id: randomUUID(), created_at: now, updated_at: now, allocated_at: null, started_at: null, succeeded_at: null,
    terminated_at: null, organization_id: randomUUID(), app_id: randomUUID(), service_id: randomUUID(), parent_id: '',
    child_id: '', status: 'PROVISIONING', metadata: {}, definition: { name: 'web', type: 'WEB', git, ...over }, messages: [],
    provisioning_info: { sha: '', image: '', stages: [] }, skip_build: false, role: 'UPCOMING', version: '1', deployment_group: '',
  };
}

/** A build log sink that keeps every line. */
export function memoryLogs(): { lines: BuildLogLine[]; sink: (l: BuildLogLine[]) => Promise<void>; text(): string } {
  const lines: BuildLogLine[] = [];
  return { lines, sink: async (l) => { lines.push(...l); }, text: () => lines.map((l) => l.msg).join('\n') };
}

/** Starts `image` (or a `dir:` build) on `runtime`, fetches `path` from its port 8000, removes it; resolves with the body. */
export async function runAndFetch(runtime: Runtime, image: string, path = '/', env: Record<string, string> = {}): Promise<string> {
  const dir = image.startsWith('dir:') ? image.slice(4) : undefined;
  const h = await runtime.start({
    instanceId: randomUUID(), labels: { test: 'build' }, image: dir ? undefined : image, appDir: dir,
    entrypoint: dir ? ['/bin/sh', '/app/.pier/run'] : undefined, env: { PORT: '8000', ...env }, ports: [8000],
    cpu: 1, memoryBytes: 256 * 1024 * 1024,
  });
  try {
    const ep = h.endpoints[0];
    const deadline = Date.now() + 30_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        // A ref'd timer, not AbortSignal.timeout (whose timer is unref'd): a fetch to a container that is still
        // starting may hold no ref'd handle, and node:test would cancel the file as "still pending".
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(new Error('no answer within 2 s')), 2000);
        try {
          const res = await fetch(`http://${ep.host}:${ep.hostPort}${path}`, { signal: ac.signal });
          const body = await res.text();
          if (res.ok) return body;
          last = `HTTP ${res.status}`;
        } finally { clearTimeout(timer); }
      } catch (err) { last = (err as Error).message; }
      const state = await runtime.inspect(h.runtimeId);
      if (state && !state.running) {
        const out: string[] = [];
        for await (const l of runtime.logs(h.runtimeId, { follow: false })) out.push(l.line);
        throw new Error(`instance exited (${JSON.stringify(state.exit)}): ${out.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no answer from the built app within 30 s: ${last}`);
  } finally {
    await runtime.stop(h.runtimeId, 2000).catch(() => {});
    await runtime.remove(h.runtimeId).catch(() => {});
  }
}
