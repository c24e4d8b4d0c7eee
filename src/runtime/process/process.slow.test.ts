// Runs the runtime conformance suite against the process runtime (bubblewrap + cgroups), plus its own promises:
// $PORT assignment, secrets kept out of argv, clean failure of a missing program.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRuntimeConformance } from '../conformance.ts';
import type { InstanceSpec } from '../contract.ts';
import { prepareTestAppDir } from '../testing/images.ts';
import { InstanceCgroup, detectCgroupLayout } from './cgroups.ts';
import { ProcessRuntime } from './driver.ts';
import { bridgeName, instanceNames } from './netplan.ts';

const MiB = 1024 * 1024;
const stateDir = mkdtempSync(join(tmpdir(), 'pier-process-test-'));
const cgroupParent = `pier-test-${process.pid}`;
const app = prepareTestAppDir();
const makeDriver = () => new ProcessRuntime({ stateDir, cgroupParent });

after(() => {
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(app.dir, { recursive: true, force: true });
  const layout = detectCgroupLayout();
  if (layout) new InstanceCgroup(layout, '', cgroupParent).destroy(); // the (now empty) parent cgroup
});

function spec(instanceId: string, args: string[], over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId, labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: args, ports: [8000], cpu: 1, memoryBytes: 128 * MiB,
    ...over,
    env: { ...over.env },
  };
}

runRuntimeConformance('process', makeDriver, {
  spec,
  async enforcedLimits(id) { return makeDriver().enforcedLimits(id); },
  async leftovers(id) {
    const left: string[] = [];
    if (existsSync(join(stateDir, 'instances', id))) left.push(`state dir of ${id}`);
    const layout = detectCgroupLayout();
    if (layout) for (const d of new InstanceCgroup(layout, cgroupParent, id).dirs()) if (existsSync(d)) left.push(d);
    const names = instanceNames(stateDir, id);
    if (existsSync(`/run/netns/${names.netns}`)) left.push(`network namespace ${names.netns}`);
    if (existsSync(`/sys/class/net/${names.veth}`)) left.push(`veth ${names.veth}`);
    return left;
  },
  async startForeign() {
    const child = spawn(app.entrypoint[0], ['sleep', '300'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid!;
    const alive = () => { try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); } catch { return false; } };
    return {
      id: String(pid),
      alive: async () => alive(),
      cleanup: async () => { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } },
    };
  },
});

/** A /proc file of `pid`, or undefined when the process is gone (ESRCH/ENOENT). */
function procFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch (err) {
    if (['ESRCH', 'ENOENT'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

test('process: $PORT and $PIER_PORT_<port> name the ports to listen on, and secrets never reach argv', { timeout: 60_000 }, async () => {
  const rt = makeDriver();
  const isolated = (await rt.capabilities()).privateNetworking;
  const secret = `s3cret-${randomUUID()}`;
  const h = await rt.start(spec(randomUUID(), ['sleep'], { ports: [9000, 8000], env: { API_TOKEN: secret } }));
  try {
    assert.deepEqual(h.endpoints.map((e) => e.containerPort), [8000, 9000]);
    const cg = new InstanceCgroup(detectCgroupLayout()!, cgroupParent, h.runtimeId);
    let env = '';
    for (let i = 0; i < 100 && !env.includes('API_TOKEN'); i++) {
      for (const pid of cg.pids()) {
        // A process of the start-up chain may exit between the listing and the read (ESRCH/ENOENT: CI once):
        // it is gone, so there is nothing of it to check; the next round reads whatever runs then.
        const argv = procFile(pid, 'cmdline');
        if (argv === undefined) continue;
        assert.ok(!argv.includes(secret), `secret found in argv of pid ${pid}`);
        const e = procFile(pid, 'environ');
        if (e?.includes('API_TOKEN')) env = e;
      }
      if (!env) await new Promise((r) => setTimeout(r, 50));
    }
    const vars = new Map(env.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    assert.equal(vars.get('API_TOKEN'), secret);
    assert.equal(vars.get('PORT'), String(h.endpoints[0].hostPort), 'PORT is the port the edge reaches for the lowest declared port');
    assert.equal(vars.get('PIER_PORT_9000'), String(h.endpoints[1].hostPort));
    if (isolated) {
      // Its own namespace: the declared ports themselves, at the instance's own address.
      assert.deepEqual(h.endpoints.map((e) => e.hostPort), [8000, 9000]);
      assert.notEqual(h.endpoints[0].host, '127.0.0.1');
    }
    const dir = join(stateDir, 'instances', h.runtimeId);
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      if (!f.isFile()) continue; // only files hold what could leak
      assert.ok(!readFileSync(join(dir, f.name), 'utf8').includes(secret), `secret written to ${f.name}`);
    }
  } finally {
    await rt.remove(h.runtimeId);
  }
});

test('process: a program that does not exist fails visibly with a non-zero exit', { timeout: 60_000 }, async () => {
  const rt = makeDriver();
  const h = await rt.start(spec(randomUUID(), [], { entrypoint: ['/app/no-such-program'] }));
  try {
    const exit = await rt.wait(h.runtimeId, AbortSignal.timeout(20_000));
    assert.notEqual(exit.exitCode, 0);
    const lines: string[] = [];
    for await (const l of rt.logs(h.runtimeId, { follow: false })) lines.push(l.line);
    assert.ok(lines.some((l) => l.includes('no-such-program')), lines.join('\n'));
  } finally {
    await rt.remove(h.runtimeId);
  }
});

test('process: the sandbox sees the app read-only and a private /tmp', { timeout: 60_000 }, async () => {
  const rt = makeDriver();
  const h = await rt.start(spec(randomUUID(), [], {
    entrypoint: [app.entrypoint[0], 'sh', '-c', 'touch /app/x 2>/dev/null && echo app-writable || echo app-readonly; touch /tmp/y && echo tmp-writable; busybox ps | wc -l'],
  }));
  try {
    const exit = await rt.wait(h.runtimeId, AbortSignal.timeout(20_000));
    assert.equal(exit.exitCode, 0);
    const lines: string[] = [];
    for await (const l of rt.logs(h.runtimeId, { follow: false })) lines.push(l.line);
    assert.ok(lines.includes('app-readonly'), lines.join('\n'));
    assert.ok(lines.includes('tmp-writable'), lines.join('\n'));
    assert.ok(Number(lines.at(-1)) < 10, `the pid namespace hides host processes: ${lines.at(-1)}`);
  } finally {
    await rt.remove(h.runtimeId);
  }
});

test('process: ids that could climb out of the state directory are unknown instances', async () => {
  const rt = makeDriver();
  await rt.remove('..'); // would resolve to the state directory itself
  await rt.stop('..', 0);
  assert.ok(existsSync(stateDir), 'the state directory survives');
  assert.equal(await rt.inspect('../instances'), null);
  await assert.rejects(rt.start(spec('../escape', ['exit', '0'])), /invalid instance id/);
});

test('process: no bridge of this suite is left once its instances are removed', async () => {
  for (const net of ['pier-default']) assert.ok(!existsSync(`/sys/class/net/${bridgeName(stateDir, net)}`), `bridge of ${net} left behind`);
});

test('process: PIER_PROCESS_NETWORK=host shares the host network: a free loopback port as $PORT, no namespace', { timeout: 60_000 }, async () => {
  const rt = new ProcessRuntime({ stateDir, cgroupParent, network: 'host' });
  assert.equal((await rt.capabilities()).privateNetworking, false);
  const h = await rt.start(spec(randomUUID(), ['serve']));
  try {
    const ep = h.endpoints[0];
    assert.equal(ep.host, '127.0.0.1');
    assert.notEqual(ep.hostPort, 8000, 'a free host port, not the declared one');
    assert.ok(!existsSync(join(stateDir, 'instances', h.runtimeId, 'net.json')));
    assert.ok(!existsSync(`/run/netns/${instanceNames(stateDir, h.runtimeId).netns}`));
    let body = '';
    for (let i = 0; i < 100 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${ep.hostPort}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), () => '');
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(body, /hello from pier/);
  } finally {
    await rt.remove(h.runtimeId);
  }
});

test('process: an instance costs Pier four processes (supervisor stamping stdout, a stderr stamper, bubblewrap\'s two), both streams still stamped', { timeout: 60_000 }, async () => {
  const rt = makeDriver();
  const h = await rt.start(spec(randomUUID(), ['serve']));
  try {
    const dir = join(stateDir, 'instances', h.runtimeId);
    const supervisor = (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { supervisorPid: number }).supervisorPid;
    const sandbox = Number(readFileSync(join(dir, 'sandbox.pid'), 'utf8'));
    const kids = (pid: number) => (procFile(pid, `task/${pid}/children`) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const lines: { stream: string; line: string }[] = [];
    for (let i = 0; i < 100 && !(lines.some((l) => l.stream === 'stdout') && lines.some((l) => l.stream === 'stderr')); i++) {
      await new Promise((r) => setTimeout(r, 50));
      lines.length = 0;
      for await (const l of rt.logs(h.runtimeId, { follow: false })) lines.push(l);
    }
    assert.ok(lines.some((l) => l.stream === 'stdout' && l.line.startsWith('starting on port')), JSON.stringify(lines));
    assert.ok(lines.some((l) => l.stream === 'stderr' && l.line === 'a line on stderr'), JSON.stringify(lines));
    // Pier's own: the supervisor's subtree without the app (everything under bubblewrap's init, the sandbox's child).
    const init = kids(sandbox);
    assert.equal(init.length, 1, 'bubblewrap runs one init in the sandbox');
    const app = new Set<number>();
    for (const stack = kids(init[0]!); stack.length;) { const p = stack.pop()!; app.add(p); stack.push(...kids(p)); }
    const pier: string[] = [];
    for (const stack = [supervisor]; stack.length;) {
      const p = stack.pop()!;
      if (app.has(p)) continue;
      const stat = procFile(p, 'stat') ?? '';
      pier.push(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      stack.push(...kids(p));
    }
    assert.deepEqual(pier.sort(), ['bash', 'bash', 'bwrap', 'bwrap'], `Pier's processes of one instance: ${pier.join(', ')}`);
  } finally {
    await rt.remove(h.runtimeId);
  }
});

test('process: a startup boost runs the instance on startupCpu until endStartupBoost, then on its cpu; one nobody ends ends on time, also after a control-plane restart', { timeout: 60_000 }, async () => {
  const rt = new ProcessRuntime({ stateDir, cgroupParent, startupBoostMs: 1_000 });
  const started: string[] = [];
  const cpuOf = (id: string) => Math.round(rt.enforcedLimits(id).cpu * 100) / 100;
  const until = async (what: string, ok: () => boolean) => {
    for (const end = Date.now() + 10_000; !ok();) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    // Ended by the control plane (its first passing health check): the instance's own limit, and a repeat changes nothing.
    const a = await rt.start(spec(randomUUID(), ['serve'], { cpu: 0.25, startupCpu: 1 }));
    started.push(a.runtimeId);
    assert.equal(cpuOf(a.runtimeId), 1, 'boosted at start');
    await rt.endStartupBoost(a.runtimeId);
    assert.equal(cpuOf(a.runtimeId), 0.25, 'its own limit once the boost ends');
    await rt.endStartupBoost(a.runtimeId);
    assert.equal(cpuOf(a.runtimeId), 0.25, 'ending it again is a no-op');
    // Nobody ends it: its time does (startupBoostMs).
    const b = await rt.start(spec(randomUUID(), ['serve'], { cpu: 0.25, startupCpu: 1 }));
    started.push(b.runtimeId);
    assert.equal(cpuOf(b.runtimeId), 1, 'boosted at start');
    await until('the boost to end on its time', () => cpuOf(b.runtimeId) === 0.25);
    // A control plane that stopped mid-boost: the next one's recover() ends a boost whose time has passed.
    const long = new ProcessRuntime({ stateDir, cgroupParent, startupBoostMs: 600_000 });
    const c = await long.start(spec(randomUUID(), ['serve'], { cpu: 0.25, startupCpu: 1 }));
    started.push(c.runtimeId);
    const recordPath = join(stateDir, 'instances', c.runtimeId, 'state.json');
    const rec = JSON.parse(readFileSync(recordPath, 'utf8'));
    writeFileSync(recordPath, JSON.stringify({ ...rec, boost: { ...rec.boost, until: Date.now() - 1 } }));
    assert.equal(cpuOf(c.runtimeId), 1, 'still boosted: its driver is gone before the time');
    await new ProcessRuntime({ stateDir, cgroupParent }).recover();
    await until('recover() to end the overdue boost', () => cpuOf(c.runtimeId) === 0.25);
    assert.equal(JSON.parse(readFileSync(recordPath, 'utf8')).boost, undefined, 'the record says the boost is over');
    // No boost asked, or one not above the instance's cpu: the cgroup has the instance's cpu from the start.
    const d = await rt.start(spec(randomUUID(), ['serve'], { cpu: 0.5, startupCpu: 0.5 }));
    started.push(d.runtimeId);
    assert.equal(cpuOf(d.runtimeId), 0.5);
  } finally {
    for (const id of started) await rt.remove(id).catch(() => undefined);
  }
});
