// Functions through a real Pier on the process runtime: TypeScript, JavaScript and Python handlers deployed from a
// directory (archive) and one from Git, called through the edge; an update (v2) and a rollback (v1 again); sleep
// and wake; a throw in user code (500 + request id, stack in the logs, next request served); an import error
// (deployment ERROR with the error in its messages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { startFunctionPier } from './platform.ts';
import { writeDir } from './support.ts';
import { until } from '../support/until.ts';

const tsHandler = (version: string) => `import { shout } from './lib.ts';
export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    return new Response(shout('ts ${version}') + ' ' + path);
  },
};
`;
const TS_LIB = 'export function shout(s: string): string { return s.toUpperCase(); }\n';
const JS_HANDLER = `export default {
  fetch(request, env) {
    if (new URL(request.url).pathname === '/boom') throw new Error('js handler exploded');
    return new Response('js ' + env.GREETING);
  },
};
`;
const PY_HANDLER = 'def handler(request):\n    return {"lang": "python", "path": request.path}\n';

function gitRepo(files: Record<string, string>): string {
  const dir = writeDir(files, 'pier-fn-git-');
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'function');
  return dir;
}

test('functions on the process runtime: deploy from archive and git, update, roll back, sleep and wake, errors', { timeout: 420_000 }, async () => {
  const p = await startFunctionPier('process');
  try {
    const [tsApp, jsApp, pyApp, gitApp, badApp] = await Promise.all(['fn-ts', 'fn-js', 'fn-py', 'fn-git', 'fn-bad'].map((n) => p.createApp(n)));
    const sleepSeconds = 3;
    const tsV1 = await p.upload(writeDir({ 'handler.ts': tsHandler('v1'), 'lib.ts': TS_LIB }));
    const ts = await p.createFunction(tsApp, { name: 'ts', source: { archive: { id: tsV1, buildpack: {} } }, sleepSeconds });
    const js = await p.createFunction(jsApp, {
      name: 'js', source: { archive: { id: await p.upload(writeDir({ 'handler.js': JS_HANDLER, 'package.json': '{"type":"module"}' })), buildpack: {} } },
      env: { GREETING: 'hello' }, sleepSeconds,
    });
    const py = await p.createFunction(pyApp, { name: 'py', source: { archive: { id: await p.upload(writeDir({ 'handler.py': PY_HANDLER })), buildpack: {} } }, sleepSeconds });
    const repo = gitRepo({ 'handler.ts': tsHandler('git'), 'lib.ts': TS_LIB });
    const fromGit = await p.createFunction(gitApp, { name: 'git', source: { git: { repository: repo, branch: 'main' } }, sleepSeconds });
    const bad = await p.createFunction(badApp, {
      name: 'bad', source: { archive: { id: await p.upload(writeDir({ 'handler.mjs': 'throw new Error("DATABASE_URL is not set");\n' })), buildpack: {} } },
    });

    await Promise.all([ts, js, py, fromGit].map((s) => p.waitDeployment(s.latest_deployment_id, ['HEALTHY', 'SLEEPING'])));
    // The edge gets its route table from the end of the controller pass that made the deployment HEALTHY, so the
    // API can say HEALTHY a few milliseconds before the edge routes the new version: wait (bounded) for that answer.
    const served = async (app: string, path: string, want: (body: string) => boolean) => {
      let last = { status: 0, body: '' };
      await until(`${app}${path} served`, async () => {
        last = await p.get(p.hostOf(app), path);
        return last.status === 200 && want(last.body);
      }, 5_000, 25).catch(() => undefined);
      assert.equal(last.status, 200, `${app}${path}: ${last.status} ${last.body}`);
      return last.body;
    };
    const ok = (app: string, path = '/') => served(app, path, () => true);
    assert.equal(await ok('fn-ts', '/a'), 'TS V1 /a');
    assert.equal(await ok('fn-js'), 'js hello');
    assert.deepEqual(JSON.parse(await ok('fn-py', '/x')), { lang: 'python', path: '/x' });
    assert.equal(await ok('fn-git'), 'TS GIT /');

    // A throw in user code: 500 with the edge's request id, the stack in the service's logs, the next request served.
    const boom = await p.get(p.hostOf('fn-js'), '/boom');
    assert.equal(boom.status, 500);
    const requestId = String(boom.headers['x-request-id']);
    assert.match(boom.body, new RegExp(`request id ${requestId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const logged = await until('the stack in the logs', async () => {
      const r = await p.api('GET', `/v1/streams/logs/query?type=runtime&service_id=${js.id}&text=${encodeURIComponent(requestId)}&limit=20`);
      return (r.body.data ?? []).map((l: { msg: string }) => l.msg).find((m: string) => m.includes('handler threw'));
    }, 30_000, 250);
    assert.match(JSON.parse(logged).stack, /js handler exploded\n\s+at /);
    assert.equal(await ok('fn-js'), 'js hello');

    // The CLI: one file becomes a function with a route and env; it prints the URL once the function is up.
    const out: string[] = [];
    const err: string[] = [];
    const file = join(writeDir({ 'hello.ts': 'export default { fetch: (_r: Request, env: Record<string, string>) => new Response(`hi ${env.WHO}`) };\n' }), 'hello.ts');
    const code = await main(['function', 'deploy', file, '--app', 'fn-cli', '--name', 'hello', '--route', '/hi', '--env', 'WHO=cli', '--url', p.pier.apiUrl, '--token', p.token],
      { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, pollIntervalMs: 250 });
    assert.equal(code, 0, err.join(''));
    assert.match(out.join(''), new RegExp(`URL: http://${p.hostOf('fn-cli').replace(/\./g, '\\.')}:\\d+/hi\n`));
    assert.equal(await ok('fn-cli', '/hi'), 'hi cli');

    // Update: a new archive is a new version; rollback redeploys version 1's definition.
    const update = await p.api('PATCH', `/v1/services/${ts.id}`, {
      definition: { ...(await p.api('GET', `/v1/deployments/${ts.latest_deployment_id}`)).body.deployment.definition, archive: { id: await p.upload(writeDir({ 'handler.ts': tsHandler('v2'), 'lib.ts': TS_LIB })), buildpack: {} } },
    });
    assert.equal(update.status, 200, JSON.stringify(update.body));
    await p.waitDeployment(update.body.service.latest_deployment_id, ['HEALTHY', 'SLEEPING']);
    assert.equal(await served('fn-ts', '/b', (b) => b === 'TS V2 /b'), 'TS V2 /b');
    const rollback = await p.api('POST', `/v1/services/${ts.id}/redeploy`, { deployment_id: ts.latest_deployment_id });
    assert.equal(rollback.status, 200, JSON.stringify(rollback.body));
    await p.waitDeployment(rollback.body.deployment.id, ['HEALTHY', 'SLEEPING']);
    assert.equal(await served('fn-ts', '/c', (b) => b === 'TS V1 /c'), 'TS V1 /c');

    // Sleep: idle past the delay, the deployment goes SLEEPING; a request wakes it and is answered.
    for (const [svc, app, expect] of [[py, 'fn-py', '"python"'], [fromGit, 'fn-git', 'TS GIT /']] as const) {
      await until(`${app} asleep`, async () => {
        const s = (await p.api('GET', `/v1/services/${svc.id}`)).body.service;
        const d = (await p.api('GET', `/v1/deployments/${s.active_deployment_id}`)).body.deployment;
        return d.status === 'SLEEPING';
      }, 90_000, 250);
      const woke = await p.get(p.hostOf(app), '/');
      assert.equal(woke.status, 200, woke.body);
      assert.ok(woke.body.includes(expect), woke.body);
    }

    // A handler that fails to load: the deployment ends in ERROR carrying the import error.
    const failed = await p.waitDeployment(bad.latest_deployment_id, ['ERROR'], 180_000);
    assert.match(failed.messages.join('\n'), /cannot load the function handler: DATABASE_URL is not set/);
  } finally {
    await p.close();
  }
});
