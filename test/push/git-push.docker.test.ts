// `git push` to a real Pier (API, controller, builder, docker runtime, edge) with real git: a push to a new service
// name creates it, builds it, and git prints the build's own lines, the status changes and the URL as "remote:"
// lines before it exits; the URL it prints is the one the edge serves the pushed commit on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEdgePier, until, type EdgePier } from '../edge/harness.ts';
import { gitRepo } from '../build/helpers.ts';

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ASKPASS: '/bin/false' };

async function removeImages(p: EdgePier, images: string[]): Promise<void> {
  for (const image of images) await p.engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(image)}`, { query: { force: 1 } }).catch(() => {});
}

test('git push creates, builds and deploys a service, showing the build and the URL through git', async () => {
  const p = await startEdgePier();
  const images: string[] = [];
  try {
    await p.createApp('pushed');
    const repo = gitRepo({ 'index.html': 'pushed with git\n' }, 'first');
    const { token } = JSON.parse(readFileSync(p.pier.credentialsPath, 'utf8')) as { token: string };
    const remote = `http://x:${token}@${p.pier.apiUrl.replace(/^http:\/\//, '')}/git/pushed/site.git`;
    const first = await run('git', ['push', '--progress', remote, 'main'], { cwd: repo, env: gitEnv, timeout: 240_000 });
    const out = first.stderr;
    assert.match(out, /remote: pier: creating pushed\/site from main at [0-9a-f]{7} \(buildpacks, port 8000\)/);
    assert.match(out, /remote: ==> PROVISIONING/);
    // The builder's own lines (its steps), not only Pier's status lines.
    const buildLines = out.split('\n').filter((l) => l.startsWith('remote: ') && !/^remote: (pier:|==>)/.test(l));
    assert.ok(buildLines.length >= 3, `build lines in:\n${out}`);
    assert.match(out, /remote: ==> HEALTHY/);
    const url = /remote: ==> Deployed: (http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url, `a URL in:\n${out}`);
    const { hostname, port, pathname } = new URL(url);
    assert.equal(`:${port}`, `:${new URL(p.edgeUrl).port}`);
    assert.equal(hostname, p.hostOf('pushed'));
    const svc = (await p.api('GET', '/v1/services?name=site')).body.services[0];
    images.push((await p.api('GET', `/v1/deployments/${svc.latest_deployment_id}`)).body.deployment.provisioning_info.image);
    const page = await until('the edge serves the pushed site', async () => {
      const r = await p.get(hostname, pathname);
      return r.status === 200 ? r : undefined;
    }, 30_000, 300);
    assert.equal(page.body, 'pushed with git\n');

    // A second push redeploys the same service at the new commit.
    writeFileSync(join(repo, 'index.html'), 'second push\n');
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qam', 'second'], { cwd: repo });
    const second = await run('git', ['push', '--progress', remote, 'main'], { cwd: repo, env: gitEnv, timeout: 240_000 });
    assert.match(second.stderr, /remote: pier: deploying pushed\/site from main at [0-9a-f]{7}\b/);
    assert.match(second.stderr, /remote: ==> Deployed: http:\/\//);
    const latest = (await p.api('GET', `/v1/services/${svc.id}`)).body.service.latest_deployment_id;
    images.push((await p.api('GET', `/v1/deployments/${latest}`)).body.deployment.provisioning_info.image);
    const next = await until('the edge serves the second push', async () => {
      const r = await p.get(hostname, pathname);
      return r.status === 200 && r.body === 'second push\n' ? r : undefined;
    }, 30_000, 300);
    assert.equal(next.body, 'second push\n');
  } finally {
    await p.close();
    await removeImages(p, images);
  }
});
