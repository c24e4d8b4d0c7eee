// The builder's own check of git sources (defence in depth behind the API): a definition stored before the API
// refused host repositories, or one that slipped past it, still cannot make the builder fetch this host's disk.
// A real local repository and the real builder; the refusal comes before git runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBuilder } from '../../src/build/builder.ts';
import { gitDeployment, gitRepo, memoryLogs } from '../build/helpers.ts';

test('the builder refuses a repository on the host\'s disk unless its gitAccess allows it, before git runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-gitsrc-'));
  const repo = gitRepo({ 'index.html': 'someone else\'s code\n' });
  try {
    const logs = memoryLogs();
    const asked: string[] = [];
    const builder = createBuilder({
      target: 'directory', workDir: join(dir, 'builds'), appendLogs: logs.sink,
      gitAccess: async (d) => { asked.push(d.organization_id); return { allowLocal: false, ownRepositories: [join(dir, 'git', 'own.git')] }; },
    });
    for (const repository of [repo, `file://${repo}`]) {
      const d = gitDeployment({ repository, branch: 'main' });
      await assert.rejects(builder.build(d, new AbortController().signal), /git\.repository: .* is on this host's disk/);
      assert.ok(!existsSync(join(dir, 'builds', 'deployments', d.id, 'src', '.git')), 'git never ran');
      assert.equal(asked.at(-1), d.organization_id);
    }
    assert.match(logs.text(), /Build failed: git\.repository: .*local paths and file:\/\/ are for the operator/);
    assert.doesNotMatch(logs.text(), /Fetching/);

    // The organization's own Pier git remote (or an operator's setting) passes the check and git fetches it.
    const own = memoryLogs();
    const allowed = createBuilder({
      target: 'directory', workDir: join(dir, 'builds'), appendLogs: own.sink,
      gitAccess: async () => ({ allowLocal: false, ownRepositories: [repo] }),
    });
    // What happens after the checkout (the directory build) is not this test's concern.
    await allowed.build(gitDeployment({ repository: repo, branch: 'main' }), new AbortController().signal).catch(() => undefined);
    assert.match(own.text(), /Checked out [0-9a-f]{12}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  }
});
