// The floor under Pier's docker cold path, measured in the same run: what `docker run -p` of the same test image
// costs to the first 200 (engine API create + start + inspect, then HTTP polled every 2 ms on the published port),
// with no Pier in between. Every container is removed, also on failure; every wait is bounded.
import http from 'node:http';
import { DockerEngine } from '../src/runtime/docker/engine.ts';
import { ensureTestImage } from '../src/runtime/testing/images.ts';

function get(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** ms from create to the first 200, `runs` times (each container removed before the next). */
export async function rawDockerRunToFirst200(runs: number): Promise<number[]> {
  const engine = new DockerEngine();
  const image = await ensureTestImage();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const { Id } = await engine.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: `pier-bench-raw-${process.pid}-${i}` },
      body: {
        Image: image, Cmd: ['serve'], Env: ['PORT=8000', 'GREETING=raw'], ExposedPorts: { '8000/tcp': {} },
        HostConfig: { PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
      },
    });
    try {
      await engine.json('POST', `/containers/${Id}/start`);
      const c = await engine.json<{ NetworkSettings: { Ports: Record<string, { HostPort: string }[] | null> } }>('GET', `/containers/${Id}/json`);
      const port = Number(c.NetworkSettings.Ports['8000/tcp']?.[0]?.HostPort);
      const deadline = Date.now() + 30_000;
      while ((await get(port)) !== 200) {
        if (Date.now() > deadline) throw new Error('the raw container did not answer 200 within 30 s');
        await new Promise((r) => setTimeout(r, 2));
      }
      out.push(performance.now() - t0);
    } finally {
      await engine.jsonOrNull('DELETE', `/containers/${Id}`, { query: { force: true } }).catch(() => undefined);
    }
  }
  return out;
}
