// Proves Pier works with Koyeb's own Python SDK: test/compat/sdk_flow.py drives a real Pier through the SDK's
// generated API classes; each of its steps becomes a subtest here, failing with the exact request and response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { koyebSdkPython, repoRoot } from './clients.ts';
import { startCompatPier } from './pier.ts';

/** One line of sdk_flow.py's report. */
interface StepReport {
  step: string;
  status: 'ok' | 'failed' | 'blocked';
  detail?: unknown;
  error?: string;
  request?: unknown;
  response?: unknown;
}

const FLOW_TIMEOUT_MS = 15 * 60 * 1000;
const LAST_STEP = 'errors: unknown app id -> 404';

function runFlow(python: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(repoRoot, 'test/compat/sdk_flow.py')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), FLOW_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function describeFailure(r: StepReport): string {
  return [
    r.error ?? 'failed',
    r.request ? `request:  ${JSON.stringify(r.request)}` : '',
    r.response ? `response: ${JSON.stringify(r.response)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

test('Koyeb Python SDK (koyeb-sdk) drives a real Pier', async (t) => {
  const python = koyebSdkPython();
  if ('error' in python) assert.fail(python.error);

  const pier = await startCompatPier();
  t.after(() => pier.close());
  t.diagnostic(`pier ${pier.apiUrl} runtime=${pier.runtime} image=${pier.image}`);

  const run = await runFlow(python.path, {
    ...process.env,
    PIER_URL: pier.apiUrl,
    PIER_TOKEN: pier.token,
    PIER_COMPAT_IMAGE: pier.image,
    PIER_COMPAT_PORT: String(pier.port),
    PIER_COMPAT_PREFIX: 'sdk',
  });
  const reports: StepReport[] = run.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as StepReport);

  for (const report of reports) {
    if (report.status === 'blocked') {
      await t.test(report.step, { skip: report.error }, () => {});
      continue;
    }
    await t.test(report.step, () => {
      if (report.status !== 'ok') assert.fail(describeFailure(report));
    });
  }
  await t.test('sdk_flow.py ran to its last step', () => {
    assert.equal(run.code, 0, `sdk_flow.py exited ${run.code}\n${run.stderr.slice(-4000)}`);
    assert.ok(
      reports.some((r) => r.step === LAST_STEP),
      `the flow stopped early after ${reports.length} steps\n${run.stderr.slice(-4000)}`,
    );
  });
});
