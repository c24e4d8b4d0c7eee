// Images Pier built for the docker runtime (`pier-build/<service>:<deployment>`) live in the engine, not in the data
// directory. `pier backup --images` saves those the backed-up deployments name (docker save format, one tar), and
// restore loads them into the engine, so a restore on a new machine runs its deployments without rebuilding them.
import { createReadStream, createWriteStream } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { DockerEngine, readBody } from '../runtime/docker/engine.ts';

/** Prefix of the image tags Pier's builder gives what it builds. */
const BUILT_PREFIX = 'pier-build/';

/** The built images that deployments' `data` JSON names in provisioning_info.image, each once, sorted. */
export function builtImagesOf(deploymentData: string[]): string[] {
  const images = new Set<string>();
  for (const text of deploymentData) {
    const image = (JSON.parse(text) as { provisioning_info?: { image?: string } }).provisioning_info?.image;
    if (image?.startsWith(BUILT_PREFIX)) images.add(image);
  }
  return [...images].sort();
}

/** Saves the images of `wanted` the engine still has into `file`; returns those saved (none: no file written). */
export async function saveImages(wanted: string[], file: string, signal?: AbortSignal, engine = new DockerEngine()): Promise<string[]> {
  const present: string[] = [];
  for (const image of wanted) {
    if (await engine.jsonOrNull('GET', `/images/${encodeURIComponent(image)}/json`)) present.push(image);
  }
  if (!present.length) return [];
  const res = await engine.request('GET', `/images/get?${present.map((n) => `names=${encodeURIComponent(n)}`).join('&')}`, { timeoutMs: 0, signal });
  if (res.statusCode !== 200) throw new Error(`docker save failed: ${res.statusCode} ${(await readBody(res)).toString().slice(0, 300)}`);
  await pipeline(res, createWriteStream(file, { mode: 0o600 }), { signal });
  return present;
}

/** Loads a docker save tar into the engine (streamed from disk); throws with the engine's message on failure. */
export async function loadImages(file: string, engine = new DockerEngine()): Promise<void> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ socketPath: engine.socketPath, path: '/images/load?quiet=1', method: 'POST', headers: { 'content-type': 'application/x-tar' } }, resolve);
    req.on('error', reject);
    createReadStream(file).on('error', reject).pipe(req);
  });
  const body = (await readBody(res)).toString();
  // The engine answers 200 and reports a failure inside its JSON message stream.
  const failed = body.split('\n').map((l) => { try { return JSON.parse(l) as { error?: string }; } catch { return {}; } }).find((m) => m.error);
  if (res.statusCode !== 200 || failed) throw new Error(`docker load failed: ${failed?.error ?? `${res.statusCode} ${body.slice(0, 300)}`}`);
}
