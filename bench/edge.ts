// Edge benchmark: a Node hello-world upstream, then the same load through nginx (Debian nginx-light, plain
// keep-alive reverse proxy) and through Pier's edge, interleaved over several rounds, all on 127.0.0.1.
// `pierHaproxy`: PIER_EDGE_DATAPLANE=haproxy (HAProxy from Debian in front of Pier's Node edge; #22), when haproxy is
// installed (its HTTPS row: HAProxy terminating TLS with the same certificate). HTTPS rows: the same two proxies terminating TLS with one certificate from Pier's local CA (wrk over https,
// HTTP/1.1 keep-alive, so this measures record encryption more than handshakes). Each HAProxy row runs beside the nginx row
// it is compared with, in alternating order from round to round (roundOrder).
// Usage: node bin/run-ts.mjs bench/edge.ts [--rounds 2] [--duration 10s] [--warmup 2s] [--workers 2] [--balance kernel|round-robin]
// Prints a JSON result; every process it starts is stopped by PID before it returns.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConnection } from 'node:net';
import { freePort } from '../test/support/ports.ts';

/** Numbers for one target over all rounds. */
export interface TargetResult {
  rps: number[];
  p50ms: number[];
  p99ms: number[];
  errors: string[];
}

/** The measured targets: plain HTTP, and HTTPS terminated by nginx / Pier. */
type Target = 'direct' | 'nginx' | 'pier' | 'pierHaproxy' | 'nginxTls' | 'pierTls' | 'pierHaproxyTls';
const TARGETS: Target[] = ['direct', 'nginx', 'pier', 'pierHaproxy', 'nginxTls', 'pierTls', 'pierHaproxyTls'];

/**
 * The order of a round: each HAProxy row right beside the nginx row it is compared with, which of the two goes
 * first alternating from round to round, so neither is always measured on the heels of the other or of the Node
 * edge's heavier rows (the box drifts between runs of wrk); the Node edge's rows last.
 */
export function roundOrder(round: number): Target[] {
  const pair = (a: Target, b: Target): Target[] => (round % 2 === 0 ? [a, b] : [b, a]);
  return ['direct', ...pair('nginx', 'pierHaproxy'), ...pair('nginxTls', 'pierHaproxyTls'), 'pier', 'pierTls'];
}

/** What the benchmark returns. */
export interface EdgeBenchResult {
  machine: { cpus: number; node: string };
  settings: { rounds: number; duration: string; connections: number; threads: number; workers: number; balance: string };
  targets: Record<Target, TargetResult>;
  median: Record<Target, { rps: number; p50ms: number; p99ms: number }>;
  ratios: { nginx: number; pier: number; pierVsNginxRatio: number };
  /** PIER_EDGE_DATAPLANE=haproxy, absent when haproxy is not installed: ratio to direct, share of nginx's, p99 added. */
  haproxy?: {
    ratio: number; vsNginxRatio: number; p99AddedMs: number; nginxP99AddedMs: number;
    /** Plain HTTP per round: HAProxy's requests/s over nginx's in the same round (measured side by side). */
    roundRatios: number[];
    /** HTTPS through HAProxy: requests/s as a share of nginx's with the same certificate, and the p99 added over direct. */
    httpsRatioToNginx: number; httpsP99AddedMs: number;
    /** HTTPS per round (HAProxy's requests/s over nginx's in the same round): how far the box moved between rounds. */
    httpsRoundRatios: number[];
    /** #22's goals: >= 0.9 of nginx's share, p99 added within 0.5 ms of nginx's, HTTPS >= 0.9 of nginx's. */
    pass: { throughput: boolean; p99: boolean; https: boolean };
  };
  goals: {
    throughput: { required: number; actual: number; pass: boolean };
    p99AddedMs: { limit: number; actual: number; pass: boolean };
    /** HTTPS: Pier's requests/s as a share of nginx's with the same certificate, and the p99 both add over direct. */
    https: { ratioToNginx: number; required: number; pass: boolean; pierP99AddedMs: number; nginxP99AddedMs: number };
  };
}

const HOST = 'bench-acme.pier.test';
const UPSTREAM_JS = `const http=require('node:http');http.createServer((q,s)=>{s.writeHead(200,{'content-type':'text/plain','content-length':12});s.end('hello world\\n')}).listen(+process.argv[1],'127.0.0.1',()=>console.log('ready'))`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

// 30 s: on a loaded 2-core box the HAProxy edge (a tsx child, then haproxy -c and its start) once took more than 10.
async function waitPort(port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

async function wrk(port: number, duration: string, latency: boolean, scheme = 'http'): Promise<{ rps: number; p50: number; p99: number; errors: string }> {
  const secs = toMs(duration) / 1000 || 10;
  // wrk sends the URL's host (127.0.0.1) as SNI; the certificate carries that IP beside the host name.
  const out = await run('wrk', ['-t2', '-c50', `-d${duration}`, ...(latency ? ['--latency'] : []), '-H', `Host: ${HOST}`, `${scheme}://127.0.0.1:${port}/`], (secs + 30) * 1000);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const errors = out.split('\n').filter((l) => /Non-2xx|Socket errors/.test(l)).map((l) => l.trim()).join('; ');
  return { rps, p50, p99, errors };
}

function nginxConfig(dir: string, listen: number, tlsListen: number, upstream: number, workers: number): string {
  const template = readFileSync(fileURLToPath(new URL('./nginx/proxy.conf.template', import.meta.url)), 'utf8');
  const values: Record<string, string> = { DIR: dir, WORKERS: String(workers), LISTEN: String(listen), TLS_LISTEN: String(tlsListen), UPSTREAM: String(upstream) };
  return template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? '');
}

/** Run the benchmark; `workers` is passed to Pier's edge. */
export async function runEdgeBench(opts: { rounds?: number; duration?: string; warmup?: string; workers?: number; balance?: 'round-robin' | 'kernel' } = {}): Promise<EdgeBenchResult> {
  const rounds = Math.max(2, opts.rounds ?? 2);
  const duration = opts.duration ?? '10s';
  const warmup = opts.warmup ?? '2s';
  const workers = opts.workers ?? 2;
  const balance = opts.balance ?? 'kernel';
  const dir = mkdtempSync(join(tmpdir(), 'pier-edge-bench-'));
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[]): ChildProcess => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    return c;
  };
  try {
    const [upPort, ngPort, pierPort, ngTlsPort, pierTlsPort, haPort, haTlsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const haproxy = await run('haproxy', ['-v'], 5000).then(() => true, () => false);
    // One certificate for both TLS proxies, from a throwaway local CA.
    const { loadOrCreateLocalCa } = await import('../src/certs/local-ca.ts');
    const leaf = await (await loadOrCreateLocalCa(join(dir, 'ca'))).issue([HOST, '127.0.0.1'], 1);
    writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
    writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
    start(process.execPath, ['-e', UPSTREAM_JS, String(upPort)]);
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, ngPort, ngTlsPort, upPort, 2));
    start('nginx', ['-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;']);
    const self = fileURLToPath(import.meta.url);
    const tsx = import.meta.resolve('tsx');
    start(process.execPath, ['--import', tsx, self, '--serve-edge', String(pierPort), String(upPort), String(workers), balance, String(pierTlsPort), dir]);
    if (haproxy) start(process.execPath, ['--import', tsx, self, '--serve-haproxy-edge', String(haPort), String(upPort), join(dir, 'haproxy'), String(haTlsPort), dir]);
    await Promise.all([waitPort(upPort), waitPort(ngPort), waitPort(pierPort), waitPort(ngTlsPort), waitPort(pierTlsPort), ...(haproxy ? [waitPort(haPort), waitPort(haTlsPort)] : [])]);
    const ports: Record<Target, number> = { direct: upPort, nginx: ngPort, pier: pierPort, pierHaproxy: haPort, nginxTls: ngTlsPort, pierTls: pierTlsPort, pierHaproxyTls: haTlsPort };
    const targets = Object.fromEntries(TARGETS.map((t) => [t, { rps: [], p50ms: [], p99ms: [], errors: [] }])) as unknown as EdgeBenchResult['targets'];
    for (let r = 0; r < rounds; r++) {
      for (const name of roundOrder(r)) {
        if (name.startsWith('pierHaproxy') && !haproxy) continue;
        const scheme = name.endsWith('Tls') ? 'https' : 'http';
        await wrk(ports[name], warmup, false, scheme);
        const res = await wrk(ports[name], duration, true, scheme);
        targets[name].rps.push(res.rps);
        targets[name].p50ms.push(res.p50);
        targets[name].p99ms.push(res.p99);
        if (res.errors) targets[name].errors.push(res.errors);
        process.stderr.write(`round ${r + 1} ${name}: ${res.rps} req/s p50 ${res.p50} ms p99 ${res.p99} ms\n`);
      }
    }
    const med = (n: Target) => ({ rps: median(targets[n].rps), p50ms: median(targets[n].p50ms), p99ms: median(targets[n].p99ms) });
    const median_ = Object.fromEntries(TARGETS.map((t) => [t, med(t)])) as EdgeBenchResult['median'];
    const round2 = (x: number) => Math.round(x * 1000) / 1000;
    const ratios = {
      nginx: round2(median_.nginx.rps / median_.direct.rps),
      pier: round2(median_.pier.rps / median_.direct.rps),
      pierVsNginxRatio: 0,
    };
    ratios.pierVsNginxRatio = round2(ratios.pier / ratios.nginx);
    const added = round2(median_.pier.p99ms - median_.direct.p99ms);
    const haproxyRatio = round2(median_.pierHaproxy.rps / median_.direct.rps);
    const haP99Added = round2(median_.pierHaproxy.p99ms - median_.direct.p99ms);
    const ngP99Added = round2(median_.nginx.p99ms - median_.direct.p99ms);
    const haHttps = round2(median_.pierHaproxyTls.rps / median_.nginxTls.rps);
    return {
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      settings: { rounds, duration, connections: 50, threads: 2, workers, balance },
      targets,
      median: median_,
      ratios,
      ...(haproxy ? { haproxy: {
        ratio: haproxyRatio, vsNginxRatio: round2(haproxyRatio / ratios.nginx), p99AddedMs: haP99Added, nginxP99AddedMs: ngP99Added,
        httpsRatioToNginx: haHttps, httpsP99AddedMs: round2(median_.pierHaproxyTls.p99ms - median_.direct.p99ms),
        roundRatios: targets.pierHaproxy.rps.map((x, i) => round2(x / targets.nginx.rps[i])),
        httpsRoundRatios: targets.pierHaproxyTls.rps.map((x, i) => round2(x / targets.nginxTls.rps[i])),
        pass: { throughput: haproxyRatio >= 0.9 * ratios.nginx, p99: haP99Added <= ngP99Added + 0.5, https: haHttps >= 0.9 },
      } } : {}),
      goals: {
        throughput: { required: round2(0.7 * ratios.nginx), actual: ratios.pier, pass: ratios.pier >= 0.7 * ratios.nginx },
        p99AddedMs: { limit: 2, actual: added, pass: added < 2 },
        https: {
          ratioToNginx: round2(median_.pierTls.rps / median_.nginxTls.rps),
          required: 0.7,
          pass: median_.pierTls.rps >= 0.7 * median_.nginxTls.rps,
          pierP99AddedMs: round2(median_.pierTls.p99ms - median_.direct.p99ms),
          nginxP99AddedMs: round2(median_.nginxTls.p99ms - median_.direct.p99ms),
        },
      },
    };
  } finally {
    for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exitCode !== null ? null : new Promise((r) => { const t = setTimeout(() => { if (c.exitCode === null) c.kill('SIGKILL'); }, 3000); c.once('exit', () => { clearTimeout(t); r(null); }); })));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Child mode: serve Pier's edge (plain, and TLS with `dir`/cert.pem when tlsPort is given) in front of the upstream until killed. */
async function serveEdge(port: number, upstream: number, workers: number, balance: 'round-robin' | 'kernel', tlsPort?: number, dir?: string): Promise<void> {
  const { createEdge } = await import('../src/edge/edge.ts');
  const tls = tlsPort !== undefined && dir !== undefined;
  const edge = await createEdge({ addr: `127.0.0.1:${port}`, domain: 'pier.test', workers, balance, tlsAddr: tls ? `127.0.0.1:${tlsPort}` : undefined });
  if (tls) {
    edge.setCertificates([{ names: [HOST, '127.0.0.1'], certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') }]);
  }
  edge.setRoutes([{
    appId: 'bench', appName: 'bench', organizationId: 'acme', hosts: [],
    routes: [{ path: '/', serviceId: 's', serviceName: 'hello', serviceStatus: 'HEALTHY', port: upstream,
      upstreams: [{ instanceId: 'i1', host: '127.0.0.1', port: upstream, region: 'local', protocol: 'http' }] }],
  }]);
  const stop = (): void => { edge.close().finally(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Child mode: PIER_EDGE_DATAPLANE=haproxy in front of the upstream (state in `dir`; HTTPS on tlsPort with certDir's certificate) until killed. */
async function serveHaproxyEdge(port: number, upstream: number, dir: string, tlsPort: number, certDir: string): Promise<void> {
  const { createHaproxyEdge } = await import('../src/edge/haproxy/edge.ts');
  const edge = await createHaproxyEdge({ addr: `127.0.0.1:${port}`, tlsAddr: `127.0.0.1:${tlsPort}`, domain: 'pier.test', dir });
  edge.setCertificates([{ names: [HOST, '127.0.0.1'], certPem: readFileSync(join(certDir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(certDir, 'key.pem'), 'utf8') }]);
  edge.setRoutes([{
    appId: 'bench', appName: 'bench', organizationId: 'acme', hosts: [],
    routes: [{ path: '/', serviceId: 's', serviceName: 'hello', serviceStatus: 'HEALTHY', port: upstream,
      upstreams: [{ instanceId: 'i1', host: '127.0.0.1', port: upstream, region: 'local', protocol: 'http' }] }],
  }]);
  await edge.settled();
  const stop = (): void => { edge.close().finally(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  if (process.argv.includes('--serve-haproxy-edge')) {
    const i = process.argv.indexOf('--serve-haproxy-edge');
    await serveHaproxyEdge(Number(process.argv[i + 1]), Number(process.argv[i + 2]), process.argv[i + 3]!, Number(process.argv[i + 4]), process.argv[i + 5]!);
  } else if (process.argv.includes('--serve-edge')) {
    const i = process.argv.indexOf('--serve-edge');
    const tlsPort = process.argv[i + 5] ? Number(process.argv[i + 5]) : undefined;
    await serveEdge(Number(process.argv[i + 1]), Number(process.argv[i + 2]), Number(process.argv[i + 3] ?? 1), process.argv[i + 4] === 'round-robin' ? 'round-robin' : 'kernel', tlsPort, process.argv[i + 6]);
  } else {
    const result = await runEdgeBench({
      rounds: Number(arg('--rounds', '2')), duration: arg('--duration', '10s'), warmup: arg('--warmup', '2s'), workers: Number(arg('--workers', '2')),
      balance: arg('--balance', 'kernel') === 'round-robin' ? 'round-robin' : 'kernel',
    });
    console.log(JSON.stringify(result, null, 2));
  }
}
