// Test support: an HTTP probe run from inside a process-runtime instance (nsenter into its sandbox's network and mount
// namespaces, so it uses the instance's address, routes and /etc/hosts exactly as the app would). The process
// runtime has no exec; the isolation tests need one.
import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { InstanceCgroup, detectCgroupLayout } from './cgroups.ts';

/**
 * A process of the app inside the sandbox: in the sandbox's user namespace. Not the outer bwrap, which runs as the
 * same host uid but stays in the host's user namespace (and in the supervisor's mount namespace, not the sandbox's).
 */
export function sandboxedPid(cgroupParent: string, instanceId: string): number | undefined {
  const layout = detectCgroupLayout();
  if (!layout) return undefined;
  const own = readlinkSync('/proc/self/ns/user');
  for (const pid of new InstanceCgroup(layout, cgroupParent, instanceId).pids()) {
    try { if (readlinkSync(`/proc/${pid}/ns/user`) !== own) return pid; } catch { /* exited meanwhile */ }
  }
  return undefined;
}

/**
 * GETs `url` from inside the instance with the host's busybox (bound read-only into every sandbox); `ok` is false for
 * refused, dropped (3 s bound) or unresolvable. Rejects only when the instance has no running app process.
 */
export function probeFromInstance(busybox: string, cgroupParent: string, instanceId: string, url: string): Promise<{ ok: boolean; output: string }> {
  const pid = sandboxedPid(cgroupParent, instanceId);
  if (!pid) return Promise.reject(new Error(`no app process in instance ${instanceId}`));
  // busybox's own `timeout`: its wget -T crashes in Debian's static build.
  const argv = ['-t', String(pid), '-n', '-m', '--', busybox, 'timeout', '3', busybox, 'wget', '-qO-', url];
  return new Promise((resolve) => {
    execFile('nsenter', argv, { timeout: 15_000 }, (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}` }));
  });
}
