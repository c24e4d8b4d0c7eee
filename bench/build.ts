// Build times: cold (skip_cache) and cached builds of a Node app (buildpack) and a Dockerfile app on the local engine.
// Run: node bin/run-ts.mjs bench/build.ts  (needs Docker; base images are made first and not counted).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createBuilder } from '../src/build/builder.ts';
import { ensureBaseImage } from '../src/build/base-images.ts';
import { DockerEngine } from '../src/runtime/docker/engine.ts';
import { ensureTestImage, TEST_IMAGE } from '../src/runtime/testing/images.ts';
import { gitDeployment, gitRepo, memoryLogs } from '../test/build/helpers.ts';

/** Cold (skip_cache) and cached build times in ms, per app kind. */
export interface BuildBenchResult { node: { cold_ms: number; cached_ms: number }; dockerfile: { cold_ms: number; cached_ms: number } }

/** Builds a Node app (buildpack) and a Dockerfile app twice each: cold, then from cache. Base images are made first. */
export async function buildBench(): Promise<BuildBenchResult> {
  const engine = new DockerEngine();
  await ensureTestImage();
  await ensureBaseImage(engine, 'node');
  const builder = createBuilder({ target: 'image', workDir: mkdtempSync(join(tmpdir(), 'pier-bench-build-')), appendLogs: memoryLogs().sink, engine });
  const apps = {
    node: gitRepo({
      'package.json': JSON.stringify({ name: 'b', version: '1.0.0', scripts: { build: 'node build.js', start: 'node s.js' }, dependencies: { d: 'file:./d' } }),
      'd/package.json': '{"name":"d","version":"1.0.0"}', 'd/index.js': 'module.exports = 1;\n',
      'build.js': 'require("fs").writeFileSync("out.txt", "x");\n', 's.js': 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT);\n',
    }),
    dockerfile: gitRepo({ Dockerfile: `FROM ${TEST_IMAGE}\nCOPY . /src/\nRUN echo step1 > /a\nRUN echo step2 > /b\n`, 'a.txt': 'a' }),
  };
  const tags: string[] = [];
  const out: Partial<BuildBenchResult> = {};
  try {
    for (const [name, repo] of Object.entries(apps) as [keyof BuildBenchResult, string][]) {
      const docker = name === 'dockerfile' ? { docker: {} } : {};
      const service = gitDeployment({ repository: repo, ...docker }).service_id;
      const time = async (skip: boolean) => {
        const d = { ...gitDeployment({ repository: repo, ...docker }, { skip_cache: skip }), service_id: service };
        const t = performance.now();
        tags.push((await builder.build(d, new AbortController().signal)).image);
        return Math.round(performance.now() - t);
      };
      const cold = await time(true);
      const cached = await time(false);
      out[name] = { cold_ms: cold, cached_ms: cached };
    }
  } finally {
    for (const t of tags) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(t)}`, { query: { force: 1 } });
  }
  return out as BuildBenchResult;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await buildBench();
  for (const [name, v] of Object.entries(r)) console.log(`${name.padEnd(10)} cold ${String(v.cold_ms).padStart(6)} ms   cached ${String(v.cached_ms).padStart(6)} ms`);
}
