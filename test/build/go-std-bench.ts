// Measures a Go net/http app's first build (empty service cache) without and with the compiled-std seed, on the
// process target, in one run: `node --import tsx test/build/go-std-bench.ts [rounds]`. Not a test (minutes long).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBuilder } from '../../src/build/builder.ts';
import { gitDeployment, gitRepo, memoryLogs } from './helpers.ts';

const rounds = Number(process.argv[2] ?? 1);
const work = mkdtempSync(join(tmpdir(), 'pier-go-std-bench-'));
const repo = gitRepo({
  'go.mod': 'module example.com/hello\n\ngo 1.22\n',
  'main.go': 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hi") })\n\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)\n}\n',
});

async function firstBuild(label: string, goStdDir: string): Promise<number> {
  const logs = memoryLogs();
  const started = Date.now();
  await createBuilder({ target: 'directory', workDir: join(work, 'builds'), appendLogs: logs.sink, goStdDir })
    .build(gitDeployment({ repository: repo }), new AbortController().signal);
  const s = (Date.now() - started) / 1000;
  console.log(`${label}: ${s.toFixed(1)} s${/compiled the Go standard library in/.test(logs.text()) ? ' (made the seed)' : ''}`);
  return s;
}

try {
  const seeds = join(work, 'seeds');
  for (let i = 0; i < rounds; i++) {
    // A seed dir Pier cannot create: the build compiles std itself (the behaviour before the seed).
    await firstBuild('no seed', '/dev/null/none');
    if (i === 0) await firstBuild('seed made by this build', seeds);
    await firstBuild('seed copied', seeds);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
