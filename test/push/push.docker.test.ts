// Deploy on push and `pier deploy` through a real Pier (API, controller, builder, docker runtime, edge): a signed
// GitHub-style push redeploys the tracked branch at the pushed sha; a wrong signature is refused and writes nothing;
// `pier deploy <dir>` uploads a static site that goes HEALTHY through the edge without its .gitignore'd file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { processIO } from '../../src/cli/command.ts';
import { startEdgePier, until, webDef, type EdgePier } from '../edge/harness.ts';
import { gitRepo, revParse } from '../build/helpers.ts';

async function latestDeployment(p: EdgePier, serviceId: string): Promise<any> {
  const s = await p.service(serviceId);
  return (await p.api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
}

async function healthy(p: EdgePier, serviceId: string, notId?: string): Promise<any> {
  return until('deployment HEALTHY', async () => {
    const d = await latestDeployment(p, serviceId);
    if (d.id === notId) return undefined;
    if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
    return d.status === 'HEALTHY' ? d : undefined;
  }, 150_000, 500);
}

async function removeImages(p: EdgePier, images: string[]): Promise<void> {
  for (const image of images) await p.engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(image)}`, { query: { force: 1 } }).catch(() => {});
}

test('a signed push redeploys at the pushed sha; a wrong signature is refused with no new deployment', async () => {
  const p = await startEdgePier();
  const images: string[] = [];
  try {
    const repo = gitRepo({ 'index.html': 'version one\n' }, 'first');
    const appId = await p.createApp('pushed');
    const def = webDef('unused', '/', { git: { repository: repo, branch: 'main' } });
    delete (def as Record<string, unknown>).docker;
    const svc = await p.createService(appId, 'web', def);
    const first = await healthy(p, svc.id);
    images.push(first.provisioning_info.image);
    const hook = (await p.api('POST', `/v1/pier/services/${svc.id}/webhook`)).body;

    writeFileSync(join(repo, 'index.html'), 'version two\n');
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qam', 'second'], { cwd: repo });
    const sha = revParse(repo, 'main');
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: sha, sender: { login: 'octo' } });
    const send = (sig: string) => fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': sig }, body: payload });

    const bad = await send('sha256=' + createHmac('sha256', 'not-the-secret').update(payload).digest('hex'));
    assert.equal(bad.status, 401);
    assert.equal((await p.api('GET', `/v1/deployments?service_id=${svc.id}`)).body.count, 1);
    assert.equal((await p.service(svc.id)).latest_deployment_id, first.id);

    const ok = await send('sha256=' + createHmac('sha256', hook.secret).update(payload).digest('hex'));
    assert.equal(ok.status, 200);
    const second = await healthy(p, svc.id, first.id);
    images.push(second.provisioning_info.image);
    assert.equal(second.provisioning_info.sha, sha);
    assert.equal(second.metadata.git.git_env.commit_message, 'second');
    assert.equal(second.metadata.trigger.type, 'GIT');
    const reply = await until('edge serves the pushed commit', async () => {
      const r = await p.get(p.hostOf('pushed'), '/');
      return r.status === 200 && r.body === 'version two\n' ? r : undefined;
    }, 30_000, 300);
    assert.equal(reply.body, 'version two\n');
  } finally {
    await p.close();
    await removeImages(p, images);
  }
});

test('pier deploy <dir> uploads a static site that goes HEALTHY through the edge, without .gitignore\'d files', async () => {
  const p = await startEdgePier();
  const site = mkdtempSync(join(tmpdir(), 'pier-deploy-site-'));
  const images: string[] = [];
  try {
    writeFileSync(join(site, 'index.html'), 'deployed from a directory\n');
    writeFileSync(join(site, 'secret.txt'), 'must not ship\n');
    writeFileSync(join(site, '.gitignore'), 'secret.txt\n');
    await p.createApp('site');
    const creds = JSON.parse(readFileSync(p.pier.credentialsPath, 'utf8')) as { token: string };
    let out = '';
    let err = '';
    const code = await main(['deploy', site, '--app', 'site', '--name', 'web', '--ports', '8000:http', '--routes', '/:8000',
      '--regions', 'was', '--wait', '--wait-timeout', '150s', '--url', p.pier.apiUrl, '--token', creds.token], {
      ...processIO(), stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, pollIntervalMs: 300,
    });
    assert.equal(code, 0, `stdout: ${out}\nstderr: ${err}`);
    assert.match(err, /Uploaded \d+ files/);
    const svc = (await p.api('GET', '/v1/services?name=web')).body.services[0];
    const d = await latestDeployment(p, svc.id);
    images.push(d.provisioning_info.image);
    assert.equal(d.status, 'HEALTHY');
    assert.ok(d.definition.archive?.id, 'the deployment builds an archive');
    assert.equal(d.definition.git, undefined);
    const page = await until('edge answer', async () => {
      const r = await p.get(p.hostOf('site'), '/');
      return r.status === 200 ? r : undefined;
    }, 30_000, 300);
    assert.equal(page.body, 'deployed from a directory\n');
    assert.equal((await p.get(p.hostOf('site'), '/secret.txt')).status, 404);
  } finally {
    await p.close();
    await removeImages(p, images);
    rmSync(site, { recursive: true, force: true });
  }
});
