// Light sleep through a container's own cgroup freezer (issue #23). `docker pause` goes dockerd → containerd → the
// shim → runc, which writes the container cgroup's freezer file (v1 freezer.state, v2 cgroup.freeze) and waits for
// the kernel; writing that file here takes those hops off the wake path. runc reads the same file for its own state,
// so the container stays consistent for the engine: it reads running (not paused), exec is refused by runc ("cannot
// exec in a paused container"), a kill still kills, and `docker pause` on it fails instead of stacking a second state.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { detectCgroupLayout, InstanceCgroup, type CgroupLayout } from '../process/cgroups.ts';

let layout: CgroupLayout | null | undefined;

/** This host's cgroup mounts, read once (the v1/v2 choice is runc's too: v1 while the memory controller is on v1). */
function hostLayout(): CgroupLayout | null {
  if (layout === undefined) {
    try { layout = detectCgroupLayout(); } catch { layout = null; }
  }
  return layout;
}

/**
 * The cgroup path of the freezer a process sits in, from its /proc/<pid>/cgroup text: the v1 line naming the freezer
 * controller, or the v2 line (`0::`) on a unified host. Undefined when there is none.
 */
export function freezerPath(procCgroup: string, version: CgroupLayout['version']): string | undefined {
  for (const line of procCgroup.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1).trim();
    if (version === 'v1' ? controllers.split(',').includes('freezer') : line.startsWith('0::')) return path || undefined;
  }
  return undefined;
}

/**
 * The freezer of the container `containerId` whose first process is `pid`, or null when this process cannot drive it
 * (no freezer here, /proc or the cgroup file not visible, not root): the caller then asks the engine. The path must
 * name the container (`/docker/<id>`, `docker-<id>.scope`), which also rules out a pid read from another pid namespace.
 */
export function containerFreezer(containerId: string, pid: number, opts: { layout?: CgroupLayout | null; procCgroup?: string } = {}): InstanceCgroup | null {
  const l = opts.layout === undefined ? hostLayout() : opts.layout;
  if (!l || !(pid > 0) || !/^[0-9a-f]{12,64}$/.test(containerId)) return null;
  let text = opts.procCgroup;
  if (text === undefined) {
    try { text = readFileSync(`/proc/${pid}/cgroup`, 'utf8'); } catch { return null; }
  }
  const path = freezerPath(text, l.version);
  if (!path || !path.includes(containerId) || path.split('/').includes('..')) return null;
  const cg = new InstanceCgroup(l, posix.dirname(path), posix.basename(path));
  return cg.canFreeze() ? cg : null;
}
