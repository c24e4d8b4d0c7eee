// A real private registry for the registry suites: Debian's `docker-registry` served on 127.0.0.1:<free port> with
// htpasswd (bcrypt) auth, run as our own child process and stopped by its PID. Images are built from the shared
// test image with a per-run label (so pushing never touches pier-test/busybox) and pushed through the Engine API.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consumeProgress, type DockerEngine } from '../../src/runtime/docker/engine.ts';
import { registryAuthHeader } from '../../src/runtime/docker/spec.ts';
import { createTar } from '../../src/runtime/testing/tar.ts';
import { until } from '../support/until.ts';
import { freePort } from '../support/ports.ts';

/** Where Debian installs the registry (scripts/setup-host.sh --tests installs docker-registry and apache2-utils). */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** True when the registry and htpasswd are installed. */
export const registryInstalled = existsSync(REGISTRY_BIN) && (() => {
  try { execFileSync('htpasswd', ['-h'], { stdio: 'ignore' }); return true; } catch (err) { return (err as { status?: number }).status === 1 || (err as { status?: number }).status === 2; }
})();

/** A running registry. */
export interface TestRegistry {
  host: string;
  username: string;
  password: string;
  /** Builds an image from the test image (distinct per `nonce`), tags it `<host>/<repo>:<tag>`, pushes it, removes the local tag; resolves with the pushed digest. */
  push(engine: DockerEngine, repo: string, tag: string, nonce: string): Promise<string>;
  /** The digest the registry serves for `<repo>:<tag>` now (manifest HEAD with basic auth). */
  digest(repo: string, tag: string): Promise<string>;
  /** Stops the registry (by PID) and removes its storage and every local image of its host. */
  close(engine: DockerEngine): Promise<void>;
}

/** Starts a registry with one htpasswd user. */
export async function startRegistry(): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-registry-'));
  const username = 'pier';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', username, password]));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(join(dir, 'config.yml'), [
    'version: 0.1',
    'log: {level: error}',
    `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
    `http: {addr: "${host}"}`,
    `auth: {htpasswd: {realm: pier-test, path: ${join(dir, 'htpasswd')}}}`,
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-2000); });
  const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  try {
    await until('the registry to answer /v2/', async () => {
      if (child.exitCode !== null) throw new Error(`registry exited: ${stderr}`);
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
      return res.status === 401;
    }, 20_000, 100);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const auth = { username, password, serveraddress: host };

  async function digest(repo: string, tag: string): Promise<string> {
    const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        authorization: basic,
        accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json',
      },
    });
    const d = res.headers.get('docker-content-digest');
    if (res.status !== 200 || !d) throw new Error(`manifest HEAD ${repo}:${tag}: ${res.status}`);
    return d;
  }

  return {
    host, username, password, digest,
    async push(engine, repo, tag, nonce) {
      const ref = `${host}/${repo}:${tag}`;
      const context = createTar([{ type: 'file', path: 'Dockerfile', data: `FROM pier-test/busybox:1\nLABEL dev.pier.test.registry="${nonce}"\n` }]);
      await consumeProgress(await engine.request('POST', '/build', {
        query: { t: ref, rm: 1, forcerm: 1 }, body: context, headers: { 'content-type': 'application/x-tar' }, timeoutMs: 120_000,
      }));
      await consumeProgress(await engine.request('POST', `/images/${encodeURIComponent(`${host}/${repo}`)}/push`, {
        query: { tag }, headers: { 'x-registry-auth': registryAuthHeader(auth)! }, timeoutMs: 120_000,
      }));
      await engine.json('DELETE', `/images/${encodeURIComponent(ref)}`);
      return digest(repo, tag);
    },
    async close(engine) {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r));
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ } }
      }
      // Only images of this registry's host: the port is ours for this run.
      const images = await engine.json<{ Id: string; RepoTags: string[] | null; RepoDigests: string[] | null }[]>('GET', '/images/json');
      const mine = images.filter((im) => [...(im.RepoTags ?? []), ...(im.RepoDigests ?? [])].some((r) => r.startsWith(`${host}/`)));
      for (const im of mine) await engine.jsonOrNull('DELETE', `/images/${im.Id}`, { query: { force: true } }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

