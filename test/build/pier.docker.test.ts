// A git deployment through a real Pier (API, controller, builder, docker runtime, edge): the build log is stored as
// type build, the commit is recorded on the deployment, the app answers through the edge; a broken commit then ends
// in ERROR with its last build lines while the first deployment keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEdgePier, until as waitFor, webDef } from '../edge/harness.ts';
import { gitRepo, revParse } from './helpers.ts';

test('git deployment builds, goes HEALTHY and serves through the edge; a failed build keeps the old one serving', async () => {
  const p = await startEdgePier();
  let image: string | undefined;
  try {
    const repo = gitRepo({ 'index.html': 'built by pier\n' }, 'static page');
    const appId = await p.createApp('gitapp');
    const def = webDef('unused', '/', { docker: undefined, git: { repository: repo, branch: 'main' } });
    delete (def as Record<string, unknown>).docker;
    const svc = await p.createService(appId, 'web', def);
    const healthy = await waitFor('first deployment HEALTHY', async () => {
      const s = await p.service(svc.id);
      const d = (await p.api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.status === 'HEALTHY' ? d : undefined;
    }, 150_000, 500);
    image = healthy.provisioning_info.image;
    assert.equal(healthy.provisioning_info.sha, revParse(repo, 'main'));
    assert.equal(healthy.metadata.git.git_env.commit_message, 'static page');
    const reply = await waitFor('edge answer', async () => {
      const r = await p.get(p.hostOf('gitapp'), '/');
      return r.status === 200 ? r : undefined;
    }, 30_000, 300);
    assert.equal(reply.body, 'built by pier\n');
    const logs = (await p.api('GET', `/v1/streams/logs/query?type=build&deployment_id=${healthy.id}&limit=100`)).body;
    const text = JSON.stringify(logs);
    assert.match(text, /Detected a static app/);
    assert.match(text, /Build finished/);

    // A build that fails: ERROR with the build's last lines; the first deployment stays active and serving.
    const broken = await p.api('PATCH', `/v1/services/${svc.id}`, { definition: { ...def, git: { repository: repo, branch: 'main', docker: { dockerfile: 'Missing.Dockerfile' } } } });
    assert.equal(broken.status, 200, JSON.stringify(broken.body));
    const failed = await waitFor('failed deployment ERROR', async () => {
      const s = await p.service(svc.id);
      const d = (await p.api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
      return d.status === 'ERROR' ? d : undefined;
    }, 120_000, 500);
    assert.match(failed.messages.join('\n'), /no Missing\.Dockerfile in the build context/);
    const s = await p.service(svc.id);
    assert.equal(s.active_deployment_id, healthy.id);
    assert.equal((await p.get(p.hostOf('gitapp'), '/')).body, 'built by pier\n');
  } finally {
    await p.close();
    if (image) await p.engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(image)}`, { query: { force: 1 } }).catch(() => {});
  }
});
