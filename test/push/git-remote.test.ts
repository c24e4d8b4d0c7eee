// The built-in git remote through a real API and the real git client: the API token is the password, a push lands
// in <data-dir>/git/<service_id>.git and, when the service builds from that repository, deploys the pushed commit;
// a wrong token is refused with nothing written, a push to another branch deploys nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createApp, startTestPier, webDefinition } from '../api/helpers.ts';
import { gitRepo, revParse } from '../build/helpers.ts';

const run = promisify(execFile);
// Never prompt, never read the user's credential helpers or config.
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ASKPASS: '/bin/false' };
const git = (cwd: string, ...args: string[]) => run('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', ...args], { cwd, env: gitEnv, timeout: 30_000 });

test('git push to /git/<app>/<service>.git deploys the tracked branch at the pushed commit', async () => {
  const t = await startTestPier();
  try {
    const appId = await createApp(t, 'remote');
    // Created from a remote URL, then pointed at its own Pier git remote: the one local path a tenant may name.
    const def = webDefinition({ git: { repository: 'https://git.example.invalid/placeholder.git', branch: 'main' } });
    delete def.docker;
    const svc = (await t.req('POST', '/v1/services', { app_id: appId, name: 'web', definition: def })).body.service;
    const bare = join(dirname(t.pier.credentialsPath), 'git', `${svc.id}.git`);
    assert.equal((await t.req('PATCH', `/v1/services/${svc.id}`, { definition: { ...def, git: { repository: bare, branch: 'main' } } })).status, 200);
    const count = async () => (await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.count as number;
    assert.equal(await count(), 2);

    const repo = gitRepo({ 'index.html': 'pushed\n' }, 'pushed commit', { dev: { 'other.txt': 'dev' } });
    const host = t.url.replace(/^http:\/\//, '');
    await assert.rejects(git(repo, 'push', `http://x:wrong-token@${host}/git/remote/web.git`, 'main'));
    await assert.rejects(git(repo, 'push', `http://x:${t.token}@${host}/git/remote/nope.git`, 'main'));
    assert.equal(await count(), 2);

    const remote = `http://x:${t.token}@${host}/git/remote/web.git`;
    await git(repo, 'push', remote, 'main');
    const sha = revParse(repo, 'main');
    assert.equal((await run('git', ['-C', bare, 'rev-parse', 'refs/heads/main'])).stdout.trim(), sha);
    assert.equal(await count(), 3);
    const latest = (await t.req('GET', `/v1/services/${svc.id}`)).body.service.latest_deployment_id;
    const d = (await t.req('GET', `/v1/deployments/${latest}`)).body.deployment;
    assert.equal(d.definition.git.sha, sha);
    assert.equal(d.definition.git.repository, bare);
    assert.equal(d.metadata.trigger.type, 'GIT');
    assert.equal(d.metadata.trigger.git.sha, sha);

    await git(repo, 'push', remote, 'dev');
    assert.equal(await count(), 3);
    // Cloning back works too (upload-pack), so the builder could fetch over HTTP as well.
    const { stdout } = await git(repo, 'ls-remote', remote, 'refs/heads/main');
    assert.match(stdout, new RegExp(`^${sha}\\s+refs/heads/main`));
  } finally {
    await t.close();
  }
});
