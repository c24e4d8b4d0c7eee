// `npm run bench`: runs every benchmark in one process on this machine, writes the raw results to
// bench/results/latest.json and a summary table to bench/results/latest.md, and replaces the table between the
// `<!-- bench:start -->` / `<!-- bench:end -->` markers in README.md. Each target is measured as a ratio against a
// baseline measured in the same run (direct upstream, nginx, bare spawn...), so numbers compare across machines.
// Usage: npm run bench [-- --only api,edge,runtime,deploy,autoscale] [--quick]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One line of the summary table. */
export interface Row {
  bench: string;
  measured: string;
  baseline: string;
  target: string;
  /** true/false when the row has a target, undefined otherwise. */
  met?: boolean;
}

/** One benchmark: how to run it and how to summarise what it returned. */
interface Section {
  name: string;
  /** Module under bench/ and the function it exports. */
  file: string;
  fn: string;
  args: (quick: boolean) => unknown[];
  rows: (result: any) => Row[];
}

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? 'n/a' : `${Number(x.toFixed(2))} ms`);
const num = (x: number) => Math.round(x).toLocaleString('en-US');

function apiRows(r: any): Row[] {
  return [
    { bench: `API GET /v1/services/{id}, ${num(r.services)} services in the store`, measured: `p50 ${ms(r.get_service.p50)}, p99 ${ms(r.get_service.p99)}`, baseline: '-', target: 'p99 < 10 ms', met: r.get_service.p99 < 10 },
    { bench: `API list 20 services (${num(r.services)} in the store)`, measured: `p50 ${ms(r.list_services_20.p50)}, p99 ${ms(r.list_services_20.p99)}`, baseline: '-', target: 'p99 < 20 ms', met: r.list_services_20.p99 < 20 },
    { bench: `API create service (${num(r.services)} in the store)`, measured: `p50 ${ms(r.create_service.p50)}, p99 ${ms(r.create_service.p99)}`, baseline: '-', target: 'p99 < 50 ms', met: r.create_service.p99 < 50 },
    { bench: `Control-plane RSS at idle with ${num(r.services)} services`, measured: `${r.idle_rss_mb} MB`, baseline: '-', target: '< 300 MB', met: r.idle_rss_mb < 300 },
  ];
}

const SECTIONS: Section[] = [
  { name: 'api', file: 'api.ts', fn: 'benchApi', args: () => [{ services: 1000 }], rows: apiRows },
  { name: 'api-10k', file: 'api.ts', fn: 'benchApi', args: () => [{ services: 10_000 }], rows: apiRows },
  {
    name: 'edge', file: 'edge.ts', fn: 'runEdgeBench',
    args: (quick) => [quick ? { rounds: 2, duration: '5s', warmup: '1s' } : { rounds: 3, duration: '10s', warmup: '2s' }],
    rows: (r) => [
      { bench: `Edge throughput, ${r.settings.connections} connections, ${r.settings.workers} workers (ratio to direct)`, measured: `${num(r.median.pier.rps)} req/s = ${r.ratios.pier}`, baseline: `direct ${num(r.median.direct.rps)} req/s; nginx ${r.ratios.nginx}`, target: `>= nginx ratio - 30% (${r.goals.throughput.required})`, met: r.goals.throughput.pass },
      { bench: 'Edge p99 latency added over direct', measured: ms(r.goals.p99AddedMs.actual), baseline: `direct p99 ${ms(r.median.direct.p99ms)}; nginx adds ${ms(r.median.nginx.p99ms - r.median.direct.p99ms)}`, target: '< 2 ms', met: r.goals.p99AddedMs.pass },
    ],
  },
  {
    name: 'runtime', file: 'runtime.ts', fn: 'runtimeBench',
    args: () => [20],
    rows: (r) => {
      const t = (prefix: string) => (r.timings as { name: string; p50: number; p90: number }[]).find((x) => x.name.startsWith(prefix));
      const bare = t('bare spawn'); const sandbox = t('process sandbox'); const docker = t('docker');
      const rows: Row[] = [];
      if (bare && sandbox) rows.push({ bench: 'Process sandbox start+exit (bwrap + cgroup) vs bare spawn', measured: `p50 ${ms(sandbox.p50)}`, baseline: `bare spawn p50 ${ms(bare.p50)}`, target: 'overhead recorded', met: undefined });
      if (docker) rows.push({ bench: 'Docker driver: container start until running', measured: `p50 ${ms(docker.p50)}, p90 ${ms(docker.p90)}`, baseline: bare ? `bare spawn p50 ${ms(bare.p50)}` : '-', target: 'recorded', met: undefined });
      for (const s of r.skipped as string[]) rows.push({ bench: 'runtime (skipped)', measured: s, baseline: '-', target: '-' });
      return rows;
    },
  },
];

/** Optional sections contributed by other benches: loaded only when their module exists and exports `fn`. */
const OPTIONAL: Section[] = [
  { name: 'deploy', file: 'deploy.ts', fn: 'deployBench', args: () => [], rows: genericRows('deploy') },
  { name: 'autoscale', file: 'autoscale.ts', fn: 'autoscaleBench', args: () => [], rows: genericRows('autoscale') },
];

/** Rows for a bench that summarises itself: it may return `{rows: Row[]}`; otherwise its JSON is in latest.json. */
function genericRows(name: string): (r: any) => Row[] {
  return (r) => Array.isArray(r?.rows) ? r.rows as Row[] : [{ bench: name, measured: 'see bench/results/latest.json', baseline: '-', target: '-' }];
}

function table(rows: Row[]): string {
  const lines = ['| Benchmark | Measured | Baseline (same run) | Target | Met |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.bench} | ${r.measured} | ${r.baseline} | ${r.target} | ${r.met === undefined ? '-' : r.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = arg('--only')?.split(',').map((s) => s.trim()).filter(Boolean);
  const sections = [...SECTIONS, ...OPTIONAL.filter((s) => existsSync(join(here, s.file)))]
    .filter((s) => !only || only.includes(s.name));
  const results: Record<string, unknown> = {};
  const rows: Row[] = [];
  const started = new Date();
  for (const s of sections) {
    process.stderr.write(`bench: ${s.name}...\n`);
    const t0 = performance.now();
    try {
      const mod = await import(pathToFileURL(join(here, s.file)).href) as Record<string, (...a: unknown[]) => Promise<unknown>>;
      if (typeof mod[s.fn] !== 'function') throw new Error(`bench/${s.file} does not export ${s.fn}()`);
      const r = await mod[s.fn](...s.args(quick));
      results[s.name] = r;
      rows.push(...s.rows(r));
    } catch (err) {
      results[s.name] = { error: (err as Error).message };
      rows.push({ bench: s.name, measured: `failed: ${(err as Error).message}`, baseline: '-', target: '-', met: false });
    }
    process.stderr.write(`bench: ${s.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const machine = { cpus: availableParallelism(), memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
  const outDir = join(here, 'results');
  mkdirSync(outDir, { recursive: true });
  const doc = { started: started.toISOString(), finished: new Date().toISOString(), quick, machine, results, rows };
  const md = `Measured ${started.toISOString().slice(0, 10)} on ${machine.cpus} cores / ${machine.memory_gib} GiB, Node ${machine.node}` +
    `${quick ? ' (--quick)' : ''}; raw numbers in \`bench/results/latest.json\`.\n\n${table(rows)}\n`;
  if (!only) {
    writeFileSync(join(outDir, 'latest.json'), JSON.stringify(doc, null, 2) + '\n');
    writeFileSync(join(outDir, 'latest.md'), md);
    const readme = join(root, 'README.md');
    if (existsSync(readme)) {
      const text = readFileSync(readme, 'utf8');
      const re = /(<!-- bench:start -->\n)[\s\S]*?(<!-- bench:end -->)/;
      if (re.test(text)) writeFileSync(readme, text.replace(re, `$1${md}$2`));
    }
  } else {
    writeFileSync(join(outDir, `partial-${only.join('-')}.json`), JSON.stringify(doc, null, 2) + '\n');
  }
  process.stdout.write(md);
}

await main();
