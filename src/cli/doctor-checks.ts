// PURE: `pier doctor`'s verdicts. Each check turns what the probes found into ok, warn or FAIL with the exact
// command that fixes it; doctor.ts gathers the facts from the machine.

/** One check's verdict. */
export interface CheckResult {
  name: string;
  level: 'ok' | 'warn' | 'FAIL';
  detail: string;
  fix?: string;
}

/** What the probes found on this machine. */
export interface DoctorFacts {
  isRoot: boolean;
  isDebian: boolean;
  launcher: string;
  /** The Docker engine's version when it answers, or why it does not. */
  docker: { version: string } | { error: string };
  /** Which of the process runtime's tools are on the PATH. */
  tools: Record<'bwrap' | 'ip' | 'iptables' | 'nsenter', boolean>;
  /** Unprivileged user namespaces are allowed (the process sandbox needs them). */
  userns: boolean;
  /** The cgroup2 mount's favordynmods (cgroupJoinTuning); undefined where the kernel has no such option. */
  cgroupJoins?: { mount: string; on: boolean };
  /** Each listen address Pier uses: free, used by a Pier that answers, or used by something else. */
  ports: { flag: string; addr: string; state: 'free' | 'pier' | 'busy' }[];
  /** Free bytes where the data directory lives. */
  disk: { path: string; freeBytes: number } | { path: string; error: string };
  /** The local CA's root certificate: absent (made on first start), or its expiry. */
  ca: { path: string; notAfter?: string; error?: string } | undefined;
  /** The API at the CLI's URL: answers with the token, refuses it, or does not answer. */
  api: { url: string; state: 'ok' | 'refused' | 'down'; detail: string };
  now: number;
}

const GB = 1024 ** 3;

function setupFix(f: DoctorFacts): string {
  if (!f.isDebian) return 'install Docker Engine (https://docs.docker.com/engine/install/) and start it, or install bubblewrap, iproute2 and iptables';
  return `${f.isRoot ? '' : 'sudo '}${f.launcher} setup --yes`;
}

/** Every verdict, in the order they print. */
export function doctorChecks(f: DoctorFacts): CheckResult[] {
  const out: CheckResult[] = [];
  const sandboxTools = (['bwrap', 'ip', 'iptables', 'nsenter'] as const).filter((t) => !f.tools[t]);
  const processWorks = f.tools.bwrap && f.userns;
  // runtime: what `pier up` would pick (auto).
  if ('version' in f.docker) out.push({ name: 'runtime', level: 'ok', detail: `docker (engine ${f.docker.version} answers)` });
  else if (processWorks) out.push({ name: 'runtime', level: 'ok', detail: 'process (sandboxed processes; no Docker engine answers)' });
  else out.push({ name: 'runtime', level: 'FAIL', detail: 'no runtime works: no Docker engine answers and the process sandbox cannot run', fix: setupFix(f) });
  // engine
  if ('version' in f.docker) out.push({ name: 'engine', level: 'ok', detail: `Docker ${f.docker.version}` });
  else out.push({ name: 'engine', level: processWorks ? 'warn' : 'FAIL', detail: f.docker.error, fix: setupFix(f) });
  // sandbox
  if (!f.tools.bwrap) out.push({ name: 'sandbox', level: 'warn', detail: 'bubblewrap is missing: the process runtime and process builds cannot run', fix: f.isDebian ? `${f.isRoot ? '' : 'sudo '}apt-get install -y bubblewrap` : 'install bubblewrap' });
  else if (!f.userns) out.push({ name: 'sandbox', level: 'warn', detail: 'unprivileged user namespaces are disabled', fix: `${f.isRoot ? '' : 'sudo '}sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000` });
  else if (sandboxTools.length) out.push({ name: 'sandbox', level: 'warn', detail: `bubblewrap works; ${sandboxTools.join(', ')} missing: instances share the host network`, fix: setupFix(f) });
  else if (!f.isRoot) out.push({ name: 'sandbox', level: 'warn', detail: 'bubblewrap works; not root: process instances share the host network (no per-app isolation)', fix: 'run pier up as root for per-app network isolation' });
  else out.push({ name: 'sandbox', level: 'ok', detail: 'bubblewrap, user namespaces and network isolation tools present' });
  // cgroup joins: every instance start moves a process into its cgroups; without favordynmods the first move after a
  // quiet spell waits for an RCU grace period (scripts/setup-host.sh step 2c).
  if (f.cgroupJoins?.on) out.push({ name: 'cgroups', level: 'ok', detail: `favordynmods on (${f.cgroupJoins.mount}): instance starts join their cgroups at once` });
  else if (f.cgroupJoins) {
    out.push({
      name: 'cgroups', level: 'warn', detail: `favordynmods is off on ${f.cgroupJoins.mount}: each cold start and wake waits ~10 ms (an RCU grace period) to join its cgroups`,
      fix: f.isDebian ? setupFix(f) : `${f.isRoot ? '' : 'sudo '}mount -o remount,favordynmods ${f.cgroupJoins.mount}`,
    });
  }
  // ports
  for (const p of f.ports) {
    if (p.state === 'free') out.push({ name: 'ports', level: 'ok', detail: `${p.addr} is free (--${p.flag})` });
    else if (p.state === 'pier') out.push({ name: 'ports', level: 'ok', detail: `${p.addr} is served by the running Pier (--${p.flag})` });
    else {
      const port = Number(p.addr.split(':').pop());
      out.push({
        name: 'ports', level: 'FAIL', detail: `${p.addr} is taken by another program (--${p.flag})`,
        fix: `find it with: ss -ltnp 'sport = :${port}'; or start Pier elsewhere: pier up --${p.flag} ${p.addr.replace(/:\d+$/, `:${port + 1}`)}`,
      });
    }
  }
  // disk
  if ('error' in f.disk) out.push({ name: 'disk', level: 'warn', detail: `cannot read free space of ${f.disk.path}: ${f.disk.error}` });
  else {
    const free = `${(f.disk.freeBytes / GB).toFixed(1)} GB free in ${f.disk.path}`;
    if (f.disk.freeBytes < 0.5 * GB) out.push({ name: 'disk', level: 'FAIL', detail: free, fix: `free space: docker system prune, or move the data with pier up --data-dir DIR` });
    else if (f.disk.freeBytes < 2 * GB) out.push({ name: 'disk', level: 'warn', detail: `${free} (builds and images need a few GB)`, fix: 'docker system prune' });
    else out.push({ name: 'disk', level: 'ok', detail: free });
  }
  // certificates
  if (!f.ca) out.push({ name: 'certificates', level: 'ok', detail: 'no local CA yet: the first pier up creates one' });
  else if (f.ca.error) out.push({ name: 'certificates', level: 'FAIL', detail: `${f.ca.path} is unreadable: ${f.ca.error}`, fix: `rm -r ${f.ca.path.replace(/\/root\.pem$/, '')} and restart pier up (clients must trust the new root.pem)` });
  else {
    const left = Date.parse(f.ca.notAfter!) - f.now;
    const days = Math.floor(left / 86_400_000);
    if (left <= 0) out.push({ name: 'certificates', level: 'FAIL', detail: `the local CA expired on ${f.ca.notAfter}`, fix: `rm -r ${f.ca.path.replace(/\/root\.pem$/, '')} and restart pier up (clients must trust the new root.pem)` });
    else if (days < 30) out.push({ name: 'certificates', level: 'warn', detail: `the local CA expires in ${days} days (${f.ca.notAfter})`, fix: `rm -r ${f.ca.path.replace(/\/root\.pem$/, '')} and restart pier up before then` });
    else out.push({ name: 'certificates', level: 'ok', detail: `local CA valid until ${f.ca.notAfter} (${f.ca.path})` });
  }
  // api
  if (f.api.state === 'ok') out.push({ name: 'api', level: 'ok', detail: `${f.api.url} answers and accepts the token` });
  else if (f.api.state === 'refused') out.push({ name: 'api', level: 'FAIL', detail: `${f.api.url} refuses the token: ${f.api.detail}`, fix: `pier login --url ${f.api.url} --token TOKEN` });
  else out.push({ name: 'api', level: 'warn', detail: `no Pier answers at ${f.api.url} (${f.api.detail})`, fix: `${f.launcher} up` });
  return out;
}

/** The report: one line per check, its fix indented below. */
export function renderChecks(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length)) + 2;
  return results.map((r) => `${r.level.padEnd(5)} ${r.name.padEnd(width)}${r.detail}${r.fix ? `\n${' '.repeat(6 + width)}fix: ${r.fix}` : ''}`).join('\n');
}
