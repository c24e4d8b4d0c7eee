// The builder double of the control tests runs the builder contract.
import { randomUUID } from 'node:crypto';
import { gitDeployment } from '../build/helpers.ts';
import { runBuilderContract } from '../build/builder-contract.ts';
import { FakeBuilder } from './fake-builder.ts';

const SHA = 'a'.repeat(40);
const fake = new FakeBuilder((d) => {
  switch (d.definition.git?.branch) {
    case 'broken': return { error: 'nothing to run: no package.json, requirements.txt, go.mod or index.html found' };
    case 'slow': return { hang: true };
    default: return { image: `pier-build/${d.id}:1`, commit: { sha: SHA, author: 'Test Author', message: 'initial commit' } };
  }
});

runBuilderContract('FakeBuilder', fake, {
  buildable: () => ({ deployment: gitDeployment({ repository: `/repos/${randomUUID()}`, branch: 'main' }), sha: SHA }),
  broken: () => gitDeployment({ repository: '/repos/broken', branch: 'broken' }),
  slow: () => gitDeployment({ repository: '/repos/slow', branch: 'slow' }),
});
