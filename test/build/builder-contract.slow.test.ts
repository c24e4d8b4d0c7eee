// The real builder runs the builder contract: directory builds (the process runtime's target) of real git
// repositories, sandboxed as in production.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { createBuilder } from '../../src/build/builder.ts';
import { runBuilderContract } from './builder-contract.ts';
import { gitDeployment, gitRepo, memoryLogs, revParse } from './helpers.ts';
import { tempDir } from '../support/temp.ts';

const workDir = tempDir('pier-builder-contract-');
const builder = createBuilder({ target: 'directory', workDir, appendLogs: memoryLogs().sink });

runBuilderContract('real builder (directory)', builder, {
  buildable: () => {
    const repo = gitRepo({ 'index.html': 'contract\n' });
    return { deployment: gitDeployment({ repository: repo, branch: 'main' }), sha: revParse(repo, 'HEAD') };
  },
  broken: () => gitDeployment({ repository: gitRepo({ 'README.md': 'nothing runnable here\n' }), branch: 'main' }),
  slow: () => gitDeployment({ repository: gitRepo({ 'index.html': 'slow\n' }), branch: 'main', build_command: 'sleep 60' }),
  check: (image) => {
    assert.match(image, /^dir:/);
    assert.ok(existsSync(join(image.slice(4), '.pier', 'run')), 'the directory carries its launcher');
  },
});
