// Runs the runtime conformance suite against gVisor (PIER_RUNTIME=gvisor: the Docker driver with runsc), plus what
// only gVisor shows: the instance's kernel is not the host's, per-instance disks and private names still work.
// As root it registers runsc itself (scripts/setup-host.sh --gvisor); otherwise, or when that fails, it is skipped
// with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runRuntimeConformance } from '../conformance.ts';
import type { InstanceSpec } from '../contract.ts';
import { ensureTestImage, TEST_IMAGE } from '../testing/images.ts';
import { DockerEngine } from './engine.ts';
import { GVISOR_OCI_RUNTIME, GvisorRuntime, gvisorEngineProblem, type EngineRuntimes } from './gvisor.ts';

const engine = new DockerEngine();
const MiB = 1024 * 1024;
const SETUP = fileURLToPath(new URL('../../../scripts/setup-host.sh', import.meta.url));

/** Undefined when the engine runs gVisor instances (registering runsc first as root), else why the suite is skipped. */
async function gvisorReady(): Promise<string | undefined> {
  let info: EngineRuntimes;
  try {
    info = await engine.json<EngineRuntimes>('GET', '/info');
  } catch (err) {
    return `no Docker engine: ${(err as Error).message}`;
  }
  if (!gvisorEngineProblem(info)) return undefined;
  if (process.getuid?.() !== 0) return `not root, and ${gvisorEngineProblem(info)}`;
  const r = spawnSync('bash', [SETUP, '--gvisor'], { encoding: 'utf8', timeout: 300_000 });
  info = await engine.json<EngineRuntimes>('GET', '/info');
  const problem = gvisorEngineProblem(info);
  return problem ? `setup-host.sh --gvisor (exit ${r.status}) did not make it work: ${problem}; ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' / ')}` : undefined;
}

function spec(instanceId: string, args: string[], over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId, labels: {}, image: TEST_IMAGE, command: args, ports: [8000], cpu: 1, memoryBytes: 128 * MiB,
    ...over,
    env: { PORT: '8000', ...over.env },
  };
}

/** Runs argv inside a running container through the engine's exec API; resolves with its output. */
async function execIn(id: string, cmd: string[]): Promise<string> {
  const exec = await engine.json<{ Id: string }>('POST', `/containers/${id}/exec`, { body: { Cmd: cmd, AttachStdout: true, AttachStderr: true } });
  const res = await engine.request('POST', `/exec/${exec.Id}/start`, { body: { Detach: false, Tty: false }, timeoutMs: 30_000 });
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  // Multiplexed frames: an 8-byte header per chunk; the text is enough for matching.
  return Buffer.concat(chunks).toString('latin1');
}

/** The runsc sandbox and gofer processes still running for a container (their argv names its id). */
function sandboxProcesses(containerId: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd = '';
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1'); } catch { continue; }
    if (cmd.startsWith('runsc') && cmd.includes(containerId)) out.push(`${pid} ${cmd.split('\0')[0]}`);
  }
  return out;
}

interface Inspect { HostConfig: { NanoCpus: number; Memory: number; Runtime: string } }

const skip = await gvisorReady();

if (skip) {
  test('gvisor runtime suite', { skip }, () => undefined);
} else {
  runRuntimeConformance('gvisor', () => new GvisorRuntime(), {
    setup: async () => { await ensureTestImage(); },
    spec,
    async enforcedLimits(id) {
      const c = await engine.json<Inspect>('GET', `/containers/${id}/json`);
      assert.equal(c.HostConfig.Runtime, GVISOR_OCI_RUNTIME, 'the instance runs in a gVisor sandbox');
      return { cpu: c.HostConfig.NanoCpus / 1e9, memoryBytes: c.HostConfig.Memory };
    },
    async leftovers(id, instanceId) {
      const left: string[] = [];
      if (await engine.jsonOrNull('GET', `/containers/${id}/json`)) left.push(`container ${id}`);
      if (await engine.jsonOrNull('GET', `/containers/pier-${instanceId}/json`)) left.push(`container pier-${instanceId}`);
      for (const p of sandboxProcesses(id)) left.push(`gVisor process ${p}`);
      return left;
    },
    async startForeign() {
      const c = await engine.json<{ Id: string }>('POST', '/containers/create', {
        query: { name: `pier-foreign-${randomUUID().slice(0, 8)}` },
        body: { Image: TEST_IMAGE, Cmd: ['sleep'], HostConfig: { RestartPolicy: { Name: 'no' }, Runtime: GVISOR_OCI_RUNTIME } },
      });
      await engine.json('POST', `/containers/${c.Id}/start`);
      return {
        id: c.Id,
        alive: async () => (await engine.json<{ State: { Running: boolean } }>('GET', `/containers/${c.Id}/json`)).State.Running,
        cleanup: async () => { await engine.jsonOrNull('DELETE', `/containers/${c.Id}`, { query: { force: true } }); },
      };
    },
  });

  test('gvisor: the instance runs on gVisor\'s kernel, not the host\'s, and reaches another on its private network by address', { timeout: 60_000 }, async () => {
    await ensureTestImage();
    const rt = new GvisorRuntime();
    assert.equal((await rt.capabilities()).name, 'gvisor');
    const net = `pier-test-gv-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    try {
      await rt.ensureNetwork(net);
      const api = await rt.start(spec(randomUUID(), ['serve'], { env: { GREETING: 'from-gvisor' }, network: net, networkAliases: ['api.myapp.internal'] }));
      ids.push(api.runtimeId);
      const client = await rt.start(spec(randomUUID(), ['sleep'], { network: net }));
      ids.push(client.runtimeId);
      const version = await execIn(client.runtimeId, ['cat', '/proc/version']);
      const uname = await execIn(client.runtimeId, ['uname', '-r']);
      assert.match(version, /Linux version/);
      assert.ok(!uname.includes(release()), `the instance's kernel (${uname.trim()}) is not the host's (${release()})`);
      assert.ok(!version.includes(release()), 'nor does /proc/version name the host kernel');
      const c = await engine.json<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>('GET', `/containers/${api.runtimeId}/json`);
      const ip = c.NetworkSettings.Networks[net].IPAddress;
      let body = '';
      for (let i = 0; i < 50 && !body.includes('from-gvisor'); i++) {
        body = await execIn(client.runtimeId, ['wget', '-qO-', `http://${ip}:8000/`]);
        if (!body.includes('from-gvisor')) await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(body, /hello from pier from-gvisor/);
      // The documented limit (docs/limits.md): Docker's embedded DNS is out of reach of gVisor's network stack. When
      // this starts to resolve, the limit is gone: update the docs and GVISOR_LIMITS.
      assert.match(await execIn(client.runtimeId, ['nslookup', 'api.myapp.internal']), /can't resolve|timed out|connection refused/i);
    } finally {
      for (const id of ids) await rt.remove(id).catch(() => undefined);
      await rt.removeNetwork(net);
    }
  });

  test('gvisor: writing past the instance\'s disk fails with ENOSPC and the exit says the disk is full', { timeout: 90_000 }, async () => {
    await ensureTestImage();
    const log: string[] = [];
    const rt = new GvisorRuntime({ log: (l) => log.push(l) });
    const caps = await rt.capabilities();
    if (!caps.enforcesDisk) return void assert.fail(`this engine enforces no disk limits here: ${log.join(' ')}`);
    const diskBytes = 64 * MiB;
    const script = 'dd if=/dev/zero of=/data.bin bs=1M count=100 || { echo "wrote $(stat -c %s /data.bin) bytes, then failed"; exit 1; }; echo "wrote everything"';
    const h = await rt.start(spec(randomUUID(), [], { entrypoint: ['/bin/sh', '-c', script], ports: [], diskBytes }));
    try {
      const exit = await rt.wait(h.runtimeId, AbortSignal.timeout(60_000));
      const lines: string[] = [];
      for await (const l of rt.logs(h.runtimeId, { follow: false })) lines.push(l.line);
      const out = lines.join('\n');
      assert.equal(exit.exitCode, 1, out);
      assert.match(out, /No space left on device/);
      const wrote = Number(/wrote (\d+) bytes, then failed/.exec(out)?.[1]);
      assert.ok(wrote > 0.8 * diskBytes && wrote <= diskBytes, `stopped at the limit: wrote ${wrote} bytes`);
      assert.match(exit.error ?? '', /disk full \(the instance type's 64 MB disk; .+ in use\)$/);
    } finally {
      await rt.remove(h.runtimeId);
    }
    const mounts = execFileSync('findmnt', ['-rn', '-o', 'SOURCE,TARGET'], { encoding: 'utf8' });
    assert.ok(!mounts.includes(h.runtimeId), 'its disk is unmounted and deleted');
  });
}
