// Proves Pier works with Koyeb's own Python SDK: test/compat/sdk_flow.py drives a real Pier through the SDK's
// generated API classes; each of its steps becomes a subtest here, failing with the exact request and response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { koyebSdkPython, repoRoot } from './clients.ts';
import { dockerAnswers, startCompatPier } from './pier.ts';

/** One line of sdk_flow.py's report. */
interface StepReport {
  step: string;
  status: 'ok' | 'failed' | 'blocked';
  /** Wall time of the step in sdk_flow.py (reported, never asserted). */
  seconds?: number;
  detail?: unknown;
  error?: string;
  request?: unknown;
  response?: unknown;
}

// Bounds a hung flow; each wait inside it is bounded by PIER_COMPAT_TIMEOUT (60 s) on its own.
const FLOW_TIMEOUT_MS = 8 * 60 * 1000;
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

const python = koyebSdkPython();
// Absent SDK: skip with the reason (scripts/test installs it from PyPI first and says so when that fails).
// The flow deploys the test image, which only the docker runtime can run.
const engineUp = await dockerAnswers();
const skip =
  'error' in python ? `koyeb-sdk absent: ${python.error}` : engineUp ? false : 'Docker engine not reachable (run scripts/setup-host.sh)';

test('Koyeb Python SDK (koyeb-sdk) drives a real Pier', { skip }, async (t) => {
  if ('error' in python) return;

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
    PIER_COMPAT_TIMEOUT: process.env.PIER_COMPAT_TIMEOUT ?? '60',
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
    if (report.seconds !== undefined) t.diagnostic(`${report.step}: ${report.seconds}s`);
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
