// The built-in git remote through a real API and the real git client (no controller runs here: the test plays it,
// marking deployments HEALTHY or ERROR in the store while git waits): the API token is the password; a push lands in
// <data-dir>/git/<service_id>.git and deploys that service whatever it built from before; a new name creates the
// service; git prints Pier's lines, the status and the URL as "remote:" lines; a wrong token, another organization's
// token or an unknown app is refused with nothing written; a push to a branch the service does not track deploys nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createApp, startTestPier, webDefinition, type TestPier } from '../api/helpers.ts';
import { gitRepo, revParse } from '../build/helpers.ts';
import { updateDeployment } from '../../src/store/deployments.ts';
import { until } from '../edge/harness.ts';

const run = promisify(execFile);
// Never prompt, never read the user's credential helpers or config.
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ASKPASS: '/bin/false' };
const git = (cwd: string, ...args: string[]) => run('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', ...args], { cwd, env: gitEnv, timeout: 60_000 });

/** Plays the controller: once service `name` has a deployment newer than `after`, gives it `status` (and a message). */
async function settleNext(t: TestPier, appId: string, name: string, after: string | undefined, status: 'HEALTHY' | 'ERROR', message: string): Promise<string> {
  const d = await until(`a new deployment of ${name}`, async () => {
    const svc = (await t.req('GET', `/v1/services?app_id=${appId}&name=${name}`)).body.services?.[0];
    return svc && svc.latest_deployment_id !== after ? svc.latest_deployment_id as string : undefined;
  }, 30_000, 100);
  await updateDeployment(t.pier.store.db, d, { status, messages: [message] });
  return d;
}

test('git push deploys the service at the pushed commit and shows the status and URL through git', async () => {
  const t = await startTestPier();
  try {
    const appId = await createApp(t, 'remote');
    // A service that ran an image: the push switches its source to its own remote.
    const svc = (await t.req('POST', '/v1/services', { app_id: appId, name: 'web', definition: webDefinition() })).body.service;
    const bare = join(dirname(t.pier.credentialsPath), 'git', `${svc.id}.git`);
    const count = async () => (await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.count as number;
    assert.equal(await count(), 1);

    const repo = gitRepo({ 'index.html': 'pushed\n' }, 'pushed commit', { dev: { 'other.txt': 'dev' } });
    const host = t.url.replace(/^http:\/\//, '');
    const remote = `http://x:${t.token}@${host}/git/remote/web.git`;
    await assert.rejects(git(repo, 'push', `http://x:wrong-token@${host}/git/remote/web.git`, 'main'));
    const other = await t.otherOrgToken();
    // Another organization's token: the app does not exist for it, in the URL of an existing or a new service.
    await assert.rejects(git(repo, 'push', `http://x:${other}@${host}/git/remote/web.git`, 'main'), /not found|404/);
    await assert.rejects(git(repo, 'push', `http://x:${other}@${host}/git/remote/fresh.git`, 'main'), /not found|404/);
    await assert.rejects(git(repo, 'push', `http://x:${t.token}@${host}/git/no-such-app/web.git`, 'main'), /not found|404/);
    assert.equal(await count(), 1);
    assert.equal((await t.req('GET', `/v1/services?app_id=${appId}`)).body.count, 1);

    const pushing = git(repo, 'push', '--progress', remote, 'main');
    const second = await settleNext(t, appId, 'web', svc.latest_deployment_id, 'HEALTHY', 'Deployment is healthy.');
    const { stderr } = await pushing;
    const sha = revParse(repo, 'main');
    assert.match(stderr, new RegExp(`remote: pier: deploying remote/web from main at ${sha.slice(0, 7)}`));
    assert.match(stderr, /remote: ==> HEALTHY: Deployment is healthy\./);
    assert.match(stderr, /remote: ==> Deployed: http:\/\/remote-[a-z0-9-]+\.localhost\/ *\n/);
    assert.equal((await run('git', ['-C', bare, 'rev-parse', 'refs/heads/main'])).stdout.trim(), sha);
    const d = (await t.req('GET', `/v1/deployments/${second}`)).body.deployment;
    assert.deepEqual({ ...d.definition.git }, { repository: bare, branch: 'main', sha, buildpack: {} });
    assert.equal(d.definition.docker, undefined);
    assert.equal(d.metadata.trigger.type, 'GIT');
    assert.equal(d.metadata.trigger.git.sha, sha);

    // The service now tracks main on this remote: another branch is stored, not deployed.
    const dev = await git(repo, 'push', '--progress', remote, 'dev');
    assert.match(dev.stderr, /remote: pier: stored dev; web deploys branch main: nothing to deploy/);
    assert.equal(await count(), 2);
    // A failed deployment ends the push with its reason.
    await git(repo, 'commit', '--allow-empty', '-qm', 'third');
    const failing = git(repo, 'push', '--progress', remote, 'main');
    await settleNext(t, appId, 'web', second, 'ERROR', 'Deployment failed: build failed: no start command');
    const failed = await failing;
    assert.match(failed.stderr, /remote: ==> ERROR: Deployment failed: build failed: no start command/);
    assert.match(failed.stderr, /remote: ==> Deployment v3 failed; logs: pier service logs remote\/web/);
    assert.equal(await count(), 3);
    // Cloning back works too (upload-pack), so the builder could fetch over HTTP as well.
    const { stdout } = await git(repo, 'ls-remote', remote, 'refs/heads/main');
    assert.match(stdout, new RegExp(`^${revParse(repo, 'main')}\\s+refs/heads/main`));

    // A service being deleted takes no deployment: the push stores the commit and says why nothing deploys.
    assert.equal((await t.req('DELETE', `/v1/services/${svc.id}`)).status, 200);
    await git(repo, 'commit', '--allow-empty', '-qm', 'fourth');
    const refused = await git(repo, 'push', '--progress', remote, 'main');
    assert.match(refused.stderr, /remote: pier: failed: .*DELETING/);
    assert.equal(await count(), 3);
  } finally {
    await t.close();
  }
});

test('git push to a new service name creates it: web, port 8000, route / (or /<name> when / is taken)', async () => {
  const t = await startTestPier();
  try {
    const appId = await createApp(t, 'fresh');
    const host = t.url.replace(/^http:\/\//, '');
    const repo = gitRepo({ 'Dockerfile': 'FROM scratch\n', 'index.html': 'hi\n' }, 'first');
    await assert.rejects(git(repo, 'ls-remote', `http://x:${t.token}@${host}/git/fresh/api.git`), /not found|404/);
    const pushing = git(repo, 'push', '--progress', `http://x:${t.token}@${host}/git/fresh/api.git`, 'main');
    await settleNext(t, appId, 'api', undefined, 'HEALTHY', 'Deployment is healthy.');
    const { stderr } = await pushing;
    assert.match(stderr, /remote: pier: creating fresh\/api from main at [0-9a-f]{7} \(Dockerfile, port 8000\)/);
    assert.match(stderr, /remote: ==> Deployed: http:\/\/fresh-[a-z0-9-]+\.localhost\/ *\n/);
    const svc = (await t.req('GET', `/v1/services?app_id=${appId}&name=api`)).body.services[0];
    const d = (await t.req('GET', `/v1/deployments/${svc.latest_deployment_id}`)).body.deployment;
    const bare = join(dirname(t.pier.credentialsPath), 'git', `${svc.id}.git`);
    assert.equal(d.definition.type, 'WEB');
    assert.deepEqual(d.definition.git, { repository: bare, branch: 'main', sha: revParse(repo, 'main'), docker: {} });
    assert.deepEqual(d.definition.ports, [{ port: 8000, protocol: 'http' }]);
    assert.deepEqual(d.definition.routes, [{ port: 8000, path: '/' }]);

    // A second new service in the same app: / is taken, so it is routed at /<name>; no Dockerfile: buildpacks.
    const plain = gitRepo({ 'index.html': 'two\n' }, 'first');
    const second = git(plain, 'push', '--progress', `http://x:${t.token}@${host}/git/fresh/docs.git`, 'main');
    await settleNext(t, appId, 'docs', undefined, 'HEALTHY', 'Deployment is healthy.');
    assert.match((await second).stderr, /remote: ==> Deployed: http:\/\/fresh-[a-z0-9-]+\.localhost\/docs *\n/);
    const docs = (await t.req('GET', `/v1/services?app_id=${appId}&name=docs`)).body.services[0];
    const dd = (await t.req('GET', `/v1/deployments/${docs.latest_deployment_id}`)).body.deployment;
    assert.deepEqual(dd.definition.routes, [{ port: 8000, path: '/docs' }]);
    assert.deepEqual(dd.definition.git.buildpack, {});

    // An invalid name is refused before anything is stored.
    await assert.rejects(git(plain, 'push', `http://x:${t.token}@${host}/git/fresh/x.git`, 'main'));
    // Two branches, neither main nor master: stored nowhere, no service, no repository left behind.
    const multi = gitRepo({ 'a.txt': 'a\n' }, 'first', { dev: { 'b.txt': 'b\n' }, feat: { 'c.txt': 'c\n' } });
    const both = await git(multi, 'push', '--progress', `http://x:${t.token}@${host}/git/fresh/multi.git`, 'dev', 'feat');
    assert.match(both.stderr, /remote: pier: stored (dev, feat|feat, dev); push one branch \(or main\) to deploy/);
    assert.equal((await t.req('GET', `/v1/services?app_id=${appId}`)).body.count, 2);
    const gitRoot = join(dirname(t.pier.credentialsPath), 'git');
    assert.deepEqual(readdirSync(gitRoot).sort(), [`${docs.id}.git`, `${svc.id}.git`, 'new-service.git'].sort());
    assert.equal(existsSync(join(gitRoot, `${docs.id}.git`, 'HEAD')), true);
  } finally {
    await t.close();
  }
});
