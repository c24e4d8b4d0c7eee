// Copies an image from a local engine into a plain-HTTP registry, without `docker push`: the engine that built the
// image may not list the registry as insecure (and must not be reconfigured), while every Swarm node pulls from it.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { DockerEngine } from '../docker/engine.ts';
import { readBody } from '../docker/engine.ts';

const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const CONFIG_V1 = 'application/vnd.docker.container.image.v1+json';
const LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Reads the regular files of an in-memory tar archive (ustar, with GNU long names). */
export function readTar(buf: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let longName: string | undefined;
  for (let off = 0; off + 512 <= buf.length;) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const type = str(156, 1) || '0';
    const prefix = str(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const data = buf.subarray(off + 512, off + 512 + size);
    longName = undefined;
    if (type === 'L') longName = data.toString('utf8').replace(/\0.*$/s, '');
    else if (type === '0' || type === '7') files.set(name, data);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function check(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`registry refused ${what}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res;
}

/** Uploads one blob unless the registry has it already (monolithic upload: POST then PUT with the digest). */
async function uploadBlob(base: string, repo: string, data: Buffer, signal?: AbortSignal): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', signal });
  if (head.ok) return digest;
  const started = await check(await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', signal }), `an upload to ${repo}`);
  const location = new URL(started.headers.get('location') ?? '', base);
  location.searchParams.set('digest', digest);
  await check(await fetch(location, {
    method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' }, signal,
  }), `blob ${digest}`);
  return digest;
}

/**
 * Pushes `image` (a name the engine knows) to `registry` (host:port, plain HTTP) as `<registry>/<repo>:<tag>` and
 * resolves with the pinned reference `<registry>/<repo>@sha256:…`.
 */
export async function pushImage(engine: DockerEngine, image: string, registry: string, repo: string, tag: string, signal?: AbortSignal): Promise<string> {
  const res = await engine.request('GET', `/images/${encodeURIComponent(image)}/get`, { signal, timeoutMs: 300_000 });
  const body = await readBody(res);
  if ((res.statusCode ?? 0) !== 200) throw new Error(`exporting image ${image} failed: HTTP ${res.statusCode} ${body.toString('utf8').slice(0, 200)}`);
  const files = readTar(body);
  const manifest = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '[]') as Array<{ Config: string; Layers: string[] }>;
  if (!manifest[0]) throw new Error(`exporting image ${image} gave no manifest`);
  const config = files.get(manifest[0].Config);
  if (!config) throw new Error(`exported image ${image} lacks its config`);
  const layers = manifest[0].Layers.map((path) => {
    const tar = files.get(path);
    if (!tar) throw new Error(`exported image ${image} lacks layer ${path}`);
    return tar;
  });
  return putImage(registry, repo, tag, config, layers, signal);
}

/**
 * Uploads an image given as its config and its layers (uncompressed tars, gzipped here) to `registry` as
 * `<repo>:<tag>`; resolves with the pinned reference `<registry>/<repo>@sha256:…`.
 */
export async function putImage(registry: string, repo: string, tag: string, config: Buffer, layerTars: Buffer[], signal?: AbortSignal): Promise<string> {
  const base = `http://${registry}`;
  const layers = [];
  for (const tar of layerTars) {
    const gz = gzipSync(tar);
    layers.push({ mediaType: LAYER_GZIP, size: gz.length, digest: await uploadBlob(base, repo, gz, signal) });
  }
  const doc = {
    schemaVersion: 2, mediaType: MANIFEST_V2,
    config: { mediaType: CONFIG_V1, size: config.length, digest: await uploadBlob(base, repo, config, signal) },
    layers,
  };
  const put = await check(await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT', body: JSON.stringify(doc), headers: { 'content-type': MANIFEST_V2 }, signal,
  }), `the manifest of ${repo}:${tag}`);
  const digest = put.headers.get('docker-content-digest');
  if (!digest) throw new Error(`registry ${registry} did not return the digest of ${repo}:${tag}`);
  return `${registry}/${repo}@${digest}`;
}
