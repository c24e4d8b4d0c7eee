// What the volume suites share: a Docker-runtime Pier configuration over a fresh temp data directory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';

/** A temp data directory and a Docker Pier's config on loopback ports (no TLS) with `token` as its admin token. */
export function dockerPierConfig(prefix: string, token: string): { dataDir: string; config: ReturnType<typeof loadConfig> } {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const config = loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime: 'docker' },
    { ...process.env, PIER_TOKEN: token },
  );
  return { dataDir, config };
}
