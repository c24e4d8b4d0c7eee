// The function wrappers run directly (no platform): a TypeScript, JavaScript and Python handler prepared as the
// builder prepares them, served on a free port; errors, timeouts, import failures and graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startWrapper, failingWrapper, writeDir } from './support.ts';
import { until } from '../support/until.ts';

const TS_HANDLER = `import { greet } from './lib/greet.ts';
interface Env { GREETING?: string }
export default {
  async fetch(request: Request, env: Env, ctx: { requestId: string }): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/boom') throw new Error('user code exploded');
    if (url.pathname === '/slow') { await new Promise((r) => setTimeout(r, 5000)); return new Response('late'); }
    if (url.pathname === '/echo') return new Response(await request.text(), { status: 201, headers: { 'x-echo': request.method } });
    if (url.pathname === '/stream') {
      const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('a')); c.enqueue(new TextEncoder().encode('b')); c.close(); } });
      return new Response(body);
    }
    if (url.pathname === '/bad') return 'not a response' as unknown as Response;
    return new Response(greet(env.GREETING ?? 'hello') + ' ' + ctx.requestId, { headers: { 'set-cookie': 'a=1' } });
  },
};
`;

test('TypeScript handler: relative imports, env, request id, body, streaming, set-cookie', async () => {
  const dir = writeDir({ 'handler.ts': TS_HANDLER, 'lib/greet.ts': 'export const greet = (g: string): string => `${g} from ts`;\n' });
  const f = await startWrapper(dir, { GREETING: 'hi', PIER_FUNCTION_TIMEOUT_MS: '1000' });
  try {
    assert.equal(await (await fetch(f.url + '/.pier/health')).text(), 'ok\n');
    const r = await fetch(f.url + '/', { headers: { 'x-request-id': 'req-42' } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'hi from ts req-42');
    assert.deepEqual(r.headers.getSetCookie(), ['a=1']);
    const echo = await fetch(f.url + '/echo', { method: 'POST', body: 'payload' });
    assert.equal(echo.status, 201);
    assert.equal(echo.headers.get('x-echo'), 'POST');
    assert.equal(await echo.text(), 'payload');
    assert.equal(await (await fetch(f.url + '/stream')).text(), 'ab');

    // A throw: 500 with the request id, one JSON log line with the stack, and the next request is served.
    const boom = await fetch(f.url + '/boom', { headers: { 'x-request-id': 'req-boom' } });
    assert.equal(boom.status, 500);
    assert.equal(boom.headers.get('x-request-id'), 'req-boom');
    assert.match(await boom.text(), /req-boom/);
    const logged = f.lines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((j) => j?.msg === 'handler threw');
    assert.equal(logged.request_id, 'req-boom');
    assert.match(logged.stack, /user code exploded\n\s+at /);
    const bad = await fetch(f.url + '/bad');
    assert.equal(bad.status, 500);
    assert.ok(bad.headers.get('x-request-id'));

    // Past PIER_FUNCTION_TIMEOUT_MS: 504, and the instance still answers.
    const slow = await fetch(f.url + '/slow');
    assert.equal(slow.status, 504);
    assert.match(await slow.text(), /within 1000 ms/);
    assert.equal((await fetch(f.url + '/')).status, 200);
  } finally {
    await f.stop();
  }
});

test('JavaScript handler: SIGTERM finishes the in-flight request, then exits 0', async () => {
  const dir = writeDir({
    'handler.mjs': 'export default { async fetch(req) { console.log("started"); await new Promise((r) => setTimeout(r, 300)); return new Response("finished " + new URL(req.url).pathname); } };\n',
  });
  const f = await startWrapper(dir);
  try {
    const inflight = fetch(f.url + '/work').then(async (r) => [r.status, await r.text()]);
    await until('the request reached the handler', async () => f.lines.includes('started'), 10_000, 20);
    f.child.kill('SIGTERM');
    assert.deepEqual(await inflight, [200, 'finished /work']);
    assert.equal(await f.exited, 0);
  } finally {
    await f.stop();
  }
});

for (const [language, files] of [
  ['JavaScript', { 'handler.mjs': 'export default { fetch(req) { console.log("served " + req.url); if (req.url.endsWith("/boom")) throw new Error("x"); return new Response("ok"); } };\n' }],
  // (A Python handler's own print to a dead stdout raises in its code, as Python does: that request is a 500.)
  ['Python', { 'handler.py': 'def handler(request):\n    if request.path == "/boom":\n        raise ValueError("x")\n    return "ok"\n' }],
] as const) {
  test(`${language} handler: with nobody reading its output any more, the wrapper keeps serving and SIGTERM still ends it`, async () => {
    // Its stdout and stderr are pipes to the platform's log readers; were those to die, a failed write must not
    // become an uncaught exception whose own log line fails again (the JS wrapper then spun at 100% CPU and ignored
    // SIGTERM), nor end a request without an answer.
    const f = await startWrapper(writeDir(files));
    try {
      f.child.stdout!.destroy();
      f.child.stderr!.destroy();
      const get = (path: string) => fetch(f.url + path, { signal: AbortSignal.timeout(10_000) });
      for (const path of ['/a', '/boom', '/b']) await get(path).then((r) => r.arrayBuffer());
      assert.equal((await get('/c')).status, 200, 'still serving after its writes failed');
      const cpuBefore = cpuSeconds(f.child.pid!);
      await new Promise((r) => setTimeout(r, 500));
      const spent = cpuSeconds(f.child.pid!) - cpuBefore;
      assert.ok(spent < 0.25, `idle, the wrapper used ${spent.toFixed(2)} s of CPU in 0.5 s`);
      f.child.kill('SIGTERM');
      const code = await Promise.race([f.exited, new Promise((r) => setTimeout(() => r('still running 5 s after SIGTERM'), 5000))]);
      assert.equal(code, 0);
    } finally {
      await f.stop();
    }
  });
}

/** user + system CPU time of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('a handler that fails to load exits 1 with the error as its last line', async () => {
  const threw = await failingWrapper(writeDir({ 'handler.js': 'throw new Error("no database url");\nexport default { fetch() {} };\n' }));
  assert.equal(threw.code, 1);
  assert.match(threw.lines.filter(Boolean).at(-1)!, /^cannot load the function handler: no database url$/);
  const noFetch = await failingWrapper(writeDir({ 'handler.js': 'export default { hello() {} };\n' }));
  assert.match(noFetch.lines.filter(Boolean).at(-1)!, /no `export default \{ fetch/);
  const py = await failingWrapper(writeDir({ 'handler.py': 'import not_a_module_anywhere\n' }));
  assert.equal(py.code, 1);
  assert.match(py.lines.filter(Boolean).at(-1)!, /^cannot load the function handler: ModuleNotFoundError: No module named 'not_a_module_anywhere'$/);
});

const PY_HANDLER = `import os, time
def handler(request):
    if request.path == "/boom":
        raise ValueError("python exploded")
    if request.path == "/slow":
        time.sleep(3)
        return "late"
    if request.path == "/json":
        return {"method": request.method, "q": request.query.get("q"), "body": request.text()}
    if request.path == "/tuple":
        return 202, {"x-kind": "tuple"}, b"raw"
    return "hello from python " + os.environ.get("GREETING", "") + " " + request.request_id
`;

test('Python handler: str, dict, tuple results; throw → 500 with request id; timeout → 504', async () => {
  const f = await startWrapper(writeDir({ 'handler.py': PY_HANDLER }), { GREETING: 'hey', PIER_FUNCTION_TIMEOUT_MS: '500' });
  try {
    assert.equal(await (await fetch(f.url + '/.pier/health')).text(), 'ok\n');
    const r = await fetch(f.url + '/', { headers: { 'x-request-id': 'py-1' } });
    assert.equal(await r.text(), 'hello from python hey py-1');
    const j = await fetch(f.url + '/json?q=x', { method: 'POST', body: 'data' });
    assert.equal(j.headers.get('content-type'), 'application/json');
    assert.deepEqual(await j.json(), { method: 'POST', q: 'x', body: 'data' });
    const t = await fetch(f.url + '/tuple');
    assert.equal(t.status, 202);
    assert.equal(t.headers.get('x-kind'), 'tuple');
    assert.equal(await t.text(), 'raw');
    const boom = await fetch(f.url + '/boom', { headers: { 'x-request-id': 'py-boom' } });
    assert.equal(boom.status, 500);
    assert.equal(boom.headers.get('x-request-id'), 'py-boom');
    const logged = f.lines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((x) => x?.msg === 'handler threw');
    assert.equal(logged.request_id, 'py-boom');
    assert.match(logged.stack, /ValueError: python exploded/);
    assert.equal((await fetch(f.url + '/slow')).status, 504);
    assert.equal((await fetch(f.url + '/')).status, 200);
  } finally {
    await f.stop();
  }
});
