// Helpers of the backup suites: a real Pier on a given data directory and runtime, the CLI run in-process, archive
// uploads and a bounded wait for a HEALTHY deployment.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { main } from '../../src/cli/main.ts';
import { packDirectory } from '../../src/cli/commands/deploy.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';

/** Starts Pier on `dataDir` (loopback, free ports, no TLS; PostgreSQL when `databaseUrl`); `token` becomes PIER_TOKEN. PIER_TEST_LOG=1 prints its log. */
export function startOn(dataDir: string, runtime: 'process' | 'docker', token?: string, databaseUrl?: string): Promise<PierHandle> {
  const flags = { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime, ...(databaseUrl ? { 'database-url': databaseUrl } : {}) };
  const config = loadConfig(flags, {
    ...process.env, PIER_GIT_ALLOW_LOCAL: 'operator', PIER_EDGE_WORKERS: '1', PIER_TOKEN: token ?? '',
  });
  return startPier(config, { log: process.env.PIER_TEST_LOG ? (l) => process.stderr.write(`[${dataDir.slice(-12)}] ${l}\n`) : () => {} });
}

/** Runs the `pier` CLI in-process; resolves with its exit code and everything it printed. */
export async function cli(argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, { stdout: (t) => lines.push(t), stderr: (t) => lines.push(t), env: { ...process.env, PIER_TOKEN: '' }, stderrIsTTY: false, stdoutIsTTY: false });
  return { code, text: lines.join('') };
}

/** Writes `files` into a new directory under `root`. */
export function writeDir(root: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'src-'));
  for (const [p, text] of Object.entries(files)) writeFileSync(join(dir, p), text);
  return dir;
}

/** A TypeScript function answering `<tag> <GREETING> <path>`. */
export const greetingHandler = (tag: string) => `export default {
  fetch(request: Request, env: Record<string, string>): Response {
    return new Response('${tag} ' + env.GREETING + ' ' + new URL(request.url).pathname);
  },
};
`;

/** API helpers bound to one Pier and token. */
export function pierApi(apiUrl: string, token: string) {
  const api = apiClient(apiUrl, token);
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await api(method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    api, must,
    async upload(dir: string): Promise<string> {
      const { data } = await packDirectory(dir);
      const r = await must('POST', '/v1/archives', { size: String(data.length) });
      const up = await fetch(r.archive.upload_url, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/gzip' } });
      assert.ok(up.ok, `upload: ${up.status}`);
      return r.archive.id as string;
    },
    waitHealthy: (id: string) => until(`deployment ${id} healthy`, async () => {
      const d = (await api('GET', `/v1/deployments/${id}`)).body.deployment;
      if (['ERROR', 'CANCELED'].includes(d.status)) throw new Error(`deployment ${id} ${d.status}: ${d.messages}`);
      return d.status === 'HEALTHY';
    }, 180_000, 250),
  };
}
