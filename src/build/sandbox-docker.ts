// Runs a build's host steps for the docker target (the Go toolchain, build_command overrides) in build containers
// through the Engine API: one container per step, body from sandbox.ts, on the `pier-build` network, its output
// streamed into the build log. Cancel and the time limit kill the container; the disk cap is watched here.
import { realpathSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DockerEngine, EngineError } from '../runtime/docker/engine.ts';
import { BRIDGE_NAME_OPTION, DockerFirewall, firewallUnavailable } from '../runtime/docker/firewall.ts';
import { dockerBridgeName } from '../runtime/firewall.ts';
import { FrameDecoder } from '../runtime/docker/frames.ts';
import { SingleFlight } from '../runtime/common.ts';
import { isSameProcess, processStartTime } from '../runtime/process/state.ts';
import { reasonOf, StepError } from './exec.ts';
import { BUILD_NETWORK, BUILD_ROLE_LABEL, BUILD_UID, buildContainerBody, sandboxBuildEnv, type ReadOnlyMount } from './sandbox.ts';
import { chownTree, guardSteps } from './sandbox-files.ts';

/** What a build container step needs. */
export interface DockerSandboxOptions {
  engine: DockerEngine;
  /** The image the steps run in (the stack's base image). */
  image: string;
  buildDir: string;
  cacheDir: string;
  env: Record<string, string>;
  cpu: number;
  memoryBytes: number;
  diskBytes: number;
  tmpBytes: number;
  /** Host paths the steps see read-only. */
  readOnly?: ReadOnlyMount[];
  /** Labels of the containers (installation scope, deployment). */
  labels: Record<string, string>;
  signal: AbortSignal;
  log: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The host's Go tree (GOROOT) to mount read-only into build containers, if this host has Go. */
export function hostGoRoot(): string | undefined {
  for (const bin of ['/usr/local/go/bin/go', '/usr/lib/go/bin/go', '/usr/bin/go']) {
    if (existsSync(bin)) return dirname(dirname(realpathSync(bin)));
  }
  return undefined;
}

const networkCreates = new SingleFlight();

let fenced = false;

/**
 * Creates the build network once (a bridge labelled dev.pier.role=build, named like Pier's instance bridges, no
 * traffic between build containers), then has the docker runtime's firewall (src/runtime/docker/firewall.ts) cover
 * it like an instance network: no host, no link-local, no other network. Without iptables or root the builds still
 * run; the docker runtime has already warned that its networks are not fenced.
 */
export function ensureBuildNetwork(engine: DockerEngine): Promise<void> {
  return networkCreates.run(BUILD_NETWORK, async () => {
    if (!(await engine.jsonOrNull('GET', `/networks/${BUILD_NETWORK}`))) {
      try {
        await engine.json('POST', '/networks/create', {
          body: {
            Name: BUILD_NETWORK, Driver: 'bridge', CheckDuplicate: true, Labels: { [BUILD_ROLE_LABEL]: 'build' },
            Options: { 'com.docker.network.bridge.enable_icc': 'false', [BRIDGE_NAME_OPTION]: dockerBridgeName(BUILD_NETWORK) },
          },
        });
      } catch (err) {
        if (!(err instanceof EngineError && err.status === 409)) throw err; // 409: created concurrently
      }
      fenced = false;
    }
    if (!fenced && firewallUnavailable() === null) {
      await new DockerFirewall(engine, () => { /* its warnings are the docker runtime's to log */ }).refresh();
      fenced = true;
    }
  });
}

/** Label naming the Pier process that runs a build container (`<pid>:<start time>`): a container whose owner is gone is an orphan. */
export const BUILD_OWNER_LABEL = 'dev.pier.build_owner';

const OWNER = `${process.pid}:${processStartTime(process.pid) ?? '0'}`;

let pruned = false;

/**
 * Removes build containers whose Pier process is gone (a control plane killed mid-build leaves its step running:
 * cancel and the time limit died with it). Once per process; containers of live Pier processes are left alone.
 */
export async function pruneOrphanBuildContainers(engine: DockerEngine): Promise<number> {
  const list = await engine.json<Array<{ Id: string; Labels: Record<string, string> | null }>>('GET', '/containers/json', {
    query: { all: 1, filters: JSON.stringify({ label: [`${BUILD_ROLE_LABEL}=build`, BUILD_OWNER_LABEL] }) },
  });
  let removed = 0;
  for (const c of list) {
    const [pid, start] = (c.Labels?.[BUILD_OWNER_LABEL] ?? '').split(':');
    if (pid && start && isSameProcess(Number(pid), start)) continue;
    await engine.jsonOrNull('DELETE', `/containers/${c.Id}`, { query: { force: 1, v: 1 } }).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** Runs `commands` one by one, each in a fresh build container; rejects with the first failure or the stop reason. */
export async function runContainerSteps(commands: string[], o: DockerSandboxOptions): Promise<void> {
  if (commands.length === 0) return;
  await ensureBuildNetwork(o.engine);
  if (!pruned) {
    pruned = true;
    const n = await pruneOrphanBuildContainers(o.engine).catch(() => 0);
    if (n) o.log(`note: removed ${n} build container(s) left by a Pier process that is gone`, 'stderr');
  }
  // As root, the directories go to the build uid; a Pier that is not root (docker group) cannot give them away,
  // so its steps run as its own uid, still unprivileged inside the container.
  const root = process.getuid?.() === 0;
  const uid = root ? BUILD_UID : process.getuid?.() ?? BUILD_UID;
  const gid = root ? BUILD_UID : process.getgid?.() ?? BUILD_UID;
  if (root) {
    chownTree(o.buildDir, BUILD_UID);
    chownTree(o.cacheDir, BUILD_UID);
  }
  const goRoot = hostGoRoot();
  const env = sandboxBuildEnv(o.env, goRoot ? `${goRoot}/bin` : undefined);
  const guard = await guardSteps([o.buildDir, o.cacheDir], o.diskBytes, o.signal, o.log);
  try {
    for (const command of commands) {
      o.log(`$ ${command}`, 'stdout');
      const body = buildContainerBody({
        image: o.image, command, env, buildDir: o.buildDir, cacheDir: o.cacheDir, toolchains: goRoot ? [goRoot] : [],
        cpu: o.cpu, memoryBytes: o.memoryBytes, tmpBytes: o.tmpBytes, labels: { ...o.labels, [BUILD_OWNER_LABEL]: OWNER }, readOnly: o.readOnly,
        uid, gid,
      });
      const code = await runContainer(o.engine, body, guard.signal, o.log);
      if (guard.signal.aborted) throw new StepError(`${command} stopped: ${reasonOf(guard.signal)}`);
      if (code !== 0) throw new StepError(`${command} failed with exit code ${code}${code === 137 ? ' (killed: out of memory or the pids limit?)' : ''}`);
    }
  } finally {
    guard.dispose();
  }
}

/** Creates, starts and follows one container to its exit; resolves with its exit code (-1 when stopped). */
async function runContainer(engine: DockerEngine, body: Record<string, unknown>, signal: AbortSignal, log: DockerSandboxOptions['log']): Promise<number> {
  if (signal.aborted) return -1;
  const { Id: id } = await engine.json<{ Id: string }>('POST', '/containers/create', { body });
  const kill = () => { engine.jsonOrNull('POST', `/containers/${id}/kill`).catch(() => undefined); };
  signal.addEventListener('abort', kill, { once: true });
  try {
    await engine.json('POST', `/containers/${id}/start`);
    const res = await engine.request('GET', `/containers/${id}/logs`, { query: { follow: 1, stdout: 1, stderr: 1, timestamps: 1 }, timeoutMs: 0 });
    const frames = new FrameDecoder();
    for await (const chunk of res) for (const l of frames.push(chunk as Buffer)) log(l.line, l.stream === 'stderr' ? 'stderr' : 'stdout');
    for (const l of frames.end()) log(l.line, l.stream === 'stderr' ? 'stderr' : 'stdout');
    const waited = await engine.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`, { timeoutMs: 0 });
    return signal.aborted ? -1 : waited.StatusCode;
  } finally {
    signal.removeEventListener('abort', kill);
    await engine.jsonOrNull('DELETE', `/containers/${id}`, { query: { force: 1, v: 1 } }).catch(() => undefined);
  }
}
