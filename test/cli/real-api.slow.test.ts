// The pier CLI against a REAL Pier (startPier with the docker runtime when the engine answers, else process): proves
// that what test/cli checks against a fake API also holds for the API the platform serves. Commands run in-process
// through main() with the real clock; every wait is a bounded poll on a condition, never a sleep-and-hope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { dockerAnswers, startCompatPier, type CompatPier } from '../compat/pier.ts';

const WAIT_MS = 90_000;
const WAIT = ['--wait', '--wait-timeout', '90s'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A CLI run in progress: its output so far, a Ctrl-C trigger and the final result. */
interface Running {
  output(): string;
  interrupt(): void;
  done: Promise<Run>;
}

function start(pier: CompatPier, argv: string[]): Running {
  let stdout = '';
  let stderr = '';
  const handlers = new Set<() => void>();
  const io: Partial<CliIO> = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    // No HOME: the credentials file of whoever runs the suite must not leak in; URL and token come from the env.
    env: { HOME: '/nonexistent-home', PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token },
    readStdin: async () => '',
    now: () => Date.now(),
    pollIntervalMs: 200,
    onInterrupt: (h) => {
      handlers.add(h);
      return () => handlers.delete(h);
    },
  };
  const done = main(argv, io).then((code) => ({ code, stdout, stderr }));
  return { output: () => stdout, interrupt: () => [...handlers].forEach((h) => h()), done };
}

async function pier(p: CompatPier, ...argv: string[]): Promise<string> {
  const r = await start(p, argv).done;
  assert.equal(r.code, 0, `pier ${argv.join(' ')} exited ${r.code}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

async function pierJson(p: CompatPier, ...argv: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await pier(p, ...argv, '-o', 'json')) as Record<string, unknown>;
}

async function until<T>(what: string, probe: () => Promise<{ done: boolean; seen: T }>, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    const { done, seen } = await probe();
    last = seen;
    if (done) return seen;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

/** GET through the edge with a Host header (fetch may not set Host), as a browser reaching the app's domain would. */
function viaEdge(edgeUrl: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${edgeUrl}/`, { headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('edge request timed out')));
    req.on('error', reject);
  });
}

// The flow deploys the test image, which only the docker runtime can run.
const engineUp = await dockerAnswers();

test('pier CLI drives a real Pier', { skip: engineUp ? false : 'Docker engine not reachable (run scripts/setup-host.sh)' }, async (t) => {
  const p = await startCompatPier();
  t.after(() => p.close());
  const info = (await (await fetch(`${p.apiUrl}/v1/pier/info`, { headers: { authorization: `Bearer ${p.token}` } })).json()) as {
    edge_url?: string; organization_id: string; domain?: string;
  };
  t.diagnostic(`pier ${p.apiUrl} runtime=${p.runtime} edge=${info.edge_url}`);
  const svc = 'real/real';
  const status = async () => ((await pierJson(p, 'services', 'get', svc)).service as { status: string }).status;
  const deployments = async () => ((await pierJson(p, 'deployments', 'list', '--service', svc)).deployments as {
    id: string; version: string; status: string; parent_id?: string;
  }[]);

  await t.test('secrets create / reveal', async () => {
    await pier(p, 'secrets', 'create', 'real-secret', '--value', 's3cret-value');
    assert.doesNotMatch(await pier(p, 'secrets', 'get', 'real-secret'), /s3cret-value/);
    assert.equal((await pier(p, 'secrets', 'reveal', 'real-secret')).trim(), 's3cret-value');
  });

  await t.test('apps init --wait: app + web service HEALTHY, and the edge serves it', async () => {
    const argv = [
      'apps', 'init', 'real', '--docker', p.image, '--ports', `${p.port}:http`, '--routes', `/:${p.port}`,
      '--checks', `${p.port}:http:/`, '--env', 'GREETING=real', '--env', 'SECRET_ENV=@real-secret', ...WAIT,
    ];
    const r = await start(p, argv).done;
    assert.equal(r.code, 0, `apps init exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    // stdout has the service as the wait left it and its URL; --wait reports each status change on stderr.
    assert.match(r.stdout, /real\s+real\s+WEB\s+HEALTHY/);
    assert.match(r.stdout, /\nURL: http:\/\/real-[^/]+:\d+\/\n$/);
    assert.match(r.stderr, /deployment [0-9a-f]{8}: HEALTHY/);
    assert.equal(await status(), 'HEALTHY');
    const app = (await pierJson(p, 'apps', 'get', 'real')).app as { domains?: { name: string }[] };
    const host = app.domains?.[0]?.name;
    assert.ok(host && info.edge_url, `app domain ${host}, edge ${info.edge_url}`);
    const res = await viaEdge(info.edge_url!, host!);
    assert.equal(res.status, 200);
    assert.match(res.body, /hello from pier real/);
  });

  await t.test('after --wait: the printed URL, apps list, services describe and pier status name where the app answers', async () => {
    const app = (await pierJson(p, 'apps', 'get', 'real')).app as { domains: { name: string }[] };
    const url = `http://${app.domains[0]!.name}:${new URL(info.edge_url!).port}/`;
    assert.match(await pier(p, 'apps', 'list'), new RegExp(`real\\s+HEALTHY\\s+${url.slice(0, -1).replace(/[.]/g, '\\.')}\\s`));
    assert.match(await pier(p, 'services', 'describe', svc), new RegExp(`\\nURL: +${url.replace(/[.]/g, '\\.')}\\n`));
    assert.match(await pier(p, 'status'), new RegExp(`\\nreal +real +WEB +HEALTHY +${url.replace(/[.]/g, '\\.')} `));
  });

  await t.test('services list / get / describe', async () => {
    const list = await pier(p, 'services', 'list');
    assert.match(list, /real/);
    assert.match(list, /HEALTHY/);
    const listed = (await pierJson(p, 'services', 'list', '--app', 'real')).services as { name: string }[];
    assert.deepEqual(listed.map((s) => s.name), ['real']);
    assert.match(await pier(p, 'services', 'get', svc), /real\s.*HEALTHY/);
    const described = await pier(p, 'services', 'describe', svc);
    assert.match(described, /GREETING/);
    assert.match(described, /HEALTHY/);
    assert.doesNotMatch(described, /s3cret-value/);
  });

  await t.test('services logs (query)', async () => {
    const out = await until('the service logs to show the app start', async () => {
      const seen = await pier(p, 'services', 'logs', svc, '--since', '10m');
      return { done: /GREETING=real/.test(seen), seen };
    });
    assert.match(out, /starting on port/);
    assert.doesNotMatch(out, /s3cret-value/);
  });

  await t.test('services update --wait while logs -f streams the new instance live', async () => {
    const tail = start(p, ['services', 'logs', svc, '-f']);
    try {
      // The backlog arrives first; once it is there the stream is live, so the update's lines must come through it.
      await until('the tail backlog', async () => ({ done: /GREETING=real/.test(tail.output()), seen: tail.output().slice(-300) }));
      await pier(p, 'services', 'update', svc, '--env', 'GREETING=live', ...WAIT);
      await until('the updated instance in the live tail', async () => ({
        done: /GREETING=live/.test(tail.output()), seen: tail.output().slice(-300),
      }));
    } finally {
      tail.interrupt();
    }
    const r = await tail.done;
    assert.equal(r.code, 0, `logs -f ended with ${r.code}: ${r.stderr}`);
  });

  await t.test('services redeploy --wait, deployments list newest first', async () => {
    await pier(p, 'services', 'redeploy', svc, ...WAIT);
    const deps = await deployments();
    assert.deepEqual(deps.map((d) => d.version), ['3', '2', '1']);
    assert.equal(deps[0]!.status, 'HEALTHY');
    const table = await pier(p, 'deployments', 'list', '--service', svc);
    assert.ok(table.indexOf(deps[0]!.id.slice(0, 8)) < table.indexOf(deps[2]!.id.slice(0, 8)), table);
  });

  await t.test('deployments diff', async () => {
    const deps = await deployments();
    const updated = deps.find((d) => d.version === '2')!;
    const diff = await pier(p, 'deployments', 'diff', updated.id);
    assert.match(diff, /GREETING/);
    assert.match(diff, /live/);
    const raw = await pierJson(p, 'deployments', 'diff', updated.id);
    assert.ok(Array.isArray(raw.lines) && raw.lines.every((l) => typeof l === 'string'), JSON.stringify(raw));
    assert.equal((await pier(p, 'deployments', 'diff', deps[0]!.id)).trim(), 'No changes.');
  });

  await t.test('services scale set / get', async () => {
    await pier(p, 'services', 'scale', svc, '--instances', '2');
    const got = await pierJson(p, 'services', 'scale', 'get', svc);
    const counts = (got.scalings as { instances?: number }[]).map((s) => s.instances);
    assert.ok(counts.length >= 1 && counts.every((n) => n === 2), JSON.stringify(got));
    assert.match(await pier(p, 'services', 'scale', 'get', svc), /2/);
    await until('two HEALTHY instances', async () => {
      const list = (await pierJson(p, 'instances', 'list', '--service', svc)).instances as { status: string }[];
      const healthy = list.filter((i) => i.status === 'HEALTHY').length;
      return { done: healthy === 2, seen: list.map((i) => i.status) };
    });
    await pier(p, 'services', 'scale', 'delete', svc);
  });

  await t.test('services pause / resume', async () => {
    await pier(p, 'services', 'pause', svc);
    await until('PAUSED', async () => {
      const s = await status();
      return { done: s === 'PAUSED', seen: s };
    });
    await pier(p, 'services', 'resume', svc);
    await until('HEALTHY after resume', async () => {
      const s = await status();
      return { done: s === 'HEALTHY', seen: s };
    });
  });

  await t.test('services delete / apps delete / secrets delete', async () => {
    await pier(p, 'services', 'delete', svc);
    await until('service gone', async () => {
      const r = await start(p, ['services', 'get', svc, '-o', 'json']).done;
      const s = r.code === 0 ? ((JSON.parse(r.stdout) as { service: { status: string } }).service.status) : `exit ${r.code}`;
      return { done: s === 'DELETED' || r.code !== 0, seen: s };
    });
    await pier(p, 'apps', 'delete', 'real');
    await pier(p, 'secrets', 'delete', 'real-secret');
    const left = await start(p, ['secrets', 'reveal', 'real-secret']).done;
    assert.notEqual(left.code, 0);
    assert.match(left.stderr, /error:/);
  });
});
