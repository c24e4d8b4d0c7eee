// Runs Debian's pebble (a test ACME server) on loopback: its own TLS certificate from a throwaway local CA, HTTP-01
// validation against `httpPort`, names resolved by the test DNS server, no validation sleep, no nonce rejection.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadOrCreateLocalCa } from '../../../src/certs/local-ca.ts';
import { until } from '../../support/until.ts';
import { freePort } from '../../support/ports.ts';

/** Why pebble cannot run here, or null. */
export function pebbleMissing(): string | null {
  const r = spawnSync('pebble', ['-h'], { encoding: 'utf8' });
  return r.error ? 'pebble is not installed (apt-get install pebble; scripts/setup-host.sh --tests does it)' : null;
}

/** A running pebble. */
export interface Pebble { directoryUrl: string; caFile: string; close(): Promise<void> }

/** Starts pebble in `dir`; resolves once its directory answers. */
export async function startPebble(opts: { dir: string; httpPort: number; dnsAddr: string; port?: number }): Promise<Pebble> {
  const ca = await loadOrCreateLocalCa(join(opts.dir, 'pebble-tls-ca'));
  const tls = await ca.issue(['localhost', '127.0.0.1'], 1);
  const certFile = join(opts.dir, 'pebble-cert.pem');
  const keyFile = join(opts.dir, 'pebble-key.pem');
  writeFileSync(certFile, tls.certPem);
  writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
  const port = opts.port ?? await freePort();
  const config = join(opts.dir, 'pebble.json');
  writeFileSync(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${port}`, managementListenAddress: '', certificate: certFile, privateKey: keyFile,
      httpPort: opts.httpPort, tlsPort: await freePort(), ocspResponderURL: '', externalAccountBindingRequired: false,
    },
  }));
  const child: ChildProcess = spawn('pebble', ['-config', config, '-dnsserver', opts.dnsAddr], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => { output = (output + c).slice(-4000); });
  child.stderr!.on('data', (c) => { output = (output + c).slice(-4000); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const caPem = readFileSync(ca.rootPath, 'utf8');
  try {
    await until('pebble directory', () => new Promise<boolean>((resolve) => {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${output}`);
      https.get(directoryUrl, { ca: caPem }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
    }), 15_000, 100);
  } catch (err) {
    child.kill();
    throw err;
  }
  return {
    directoryUrl,
    caFile: ca.rootPath,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

