// Build times: cold (skip_cache) and cached builds of a Node app (buildpack) and a Dockerfile app on the local engine,
// and of three apps from the registries (Express from npm, Flask from PyPI, gin from the Go module proxy), made as the
// real-apps suite makes them; the host's CA bundle is carried in as an operator would (PIER_BUILD_CA_FILE).
// Run: node bin/run-ts.mjs bench/build.ts  (needs Docker; base images are made first and not counted).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createBuilder } from '../src/build/builder.ts';
import { ensureBaseImage } from '../src/build/base-images.ts';
import { DockerEngine } from '../src/runtime/docker/engine.ts';
import { ensureTestImage, TEST_IMAGE } from '../src/runtime/testing/images.ts';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { gitDeployment, gitRepo, memoryLogs } from '../test/build/helpers.ts';
import { REAL_APPS } from '../test/build/real-apps-sources.ts';

/** Cold (skip_cache) and cached build times in ms, per app kind. */
export interface BuildBenchResult {
  node: { cold_ms: number; cached_ms: number }; dockerfile: { cold_ms: number; cached_ms: number };
  /** Apps from the registries: express (npm), flask (PyPI), go-gin (Go module proxy). */
  registry?: Record<string, { cold_ms: number; cached_ms: number }>;
}

/** A git repository of one real-apps app, made in a temp dir. */
function realAppRepo(name: string): string {
  const app = REAL_APPS.find((a) => a.name === name);
  if (!app) throw new Error(`no real app ${name}`);
  const dir = join(mkdtempSync(join(tmpdir(), 'pier-bench-app-')), name);
  app.make(dir);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main'); git('add', '-A'); git('commit', '-q', '-m', 'app');
  return dir;
}

/** Builds each app cold (skip_cache), primes its caches with one ordinary build, then measures a cached one. Base images are made first. */
export async function buildBench(): Promise<BuildBenchResult> {
  const engine = new DockerEngine();
  await ensureTestImage();
  await ensureBaseImage(engine, 'node');
  await ensureBaseImage(engine, 'python');
  await ensureBaseImage(engine, 'busybox');
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  const builder = createBuilder({
    target: 'image', workDir: mkdtempSync(join(tmpdir(), 'pier-bench-build-')), appendLogs: memoryLogs().sink, engine,
    packages: existsSync(ca) ? { caFile: ca } : {},
  });
  const apps: Record<string, string> = {
    node: gitRepo({
      'package.json': JSON.stringify({ name: 'b', version: '1.0.0', scripts: { build: 'node build.js', start: 'node s.js' }, dependencies: { d: 'file:./d' } }),
      'd/package.json': '{"name":"d","version":"1.0.0"}', 'd/index.js': 'module.exports = 1;\n',
      'build.js': 'require("fs").writeFileSync("out.txt", "x");\n', 's.js': 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT);\n',
    }),
    dockerfile: gitRepo({ Dockerfile: `FROM ${TEST_IMAGE}\nCOPY . /src/\nRUN echo step1 > /a\nRUN echo step2 > /b\n`, 'a.txt': 'a' }),
    express: realAppRepo('express'), flask: realAppRepo('flask'), 'go-gin': realAppRepo('go-gin'),
  };
  const tags: string[] = [];
  const out: Partial<BuildBenchResult> = {};
  try {
    for (const [name, repo] of Object.entries(apps)) {
      const docker = name === 'dockerfile' ? { docker: {} } : {};
      const service = gitDeployment({ repository: repo, ...docker }).service_id;
      const time = async (skip: boolean) => {
        const d = { ...gitDeployment({ repository: repo, ...docker }, { skip_cache: skip }), service_id: service };
        const t = performance.now();
        tags.push((await builder.build(d, new AbortController().signal)).image);
        return Math.round(performance.now() - t);
      };
      const cold = await time(true);
      // A skip_cache build leaves no cache behind (neither engine layers to build on nor the service's cache
      // directory, which Go uses): one ordinary build primes them, the next one is measured.
      await time(false);
      const cached = await time(false);
      if (name === 'node' || name === 'dockerfile') out[name] = { cold_ms: cold, cached_ms: cached };
      else (out.registry ??= {})[name] = { cold_ms: cold, cached_ms: cached };
    }
  } finally {
    for (const t of tags) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(t)}`, { query: { force: 1 } });
  }
  return out as BuildBenchResult;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await buildBench();
  for (const [name, v] of Object.entries({ node: r.node, dockerfile: r.dockerfile, ...r.registry })) console.log(`${name.padEnd(10)} cold ${String(v.cold_ms).padStart(6)} ms   cached ${String(v.cached_ms).padStart(6)} ms`);
}
