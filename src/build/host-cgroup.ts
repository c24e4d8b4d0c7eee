// The cpu/memory/pids cap of the process target's sandboxed build steps (sandbox-process.ts): one cgroup per build
// under `pier-builds`, so a build cannot starve the instances serving traffic. Each step joins it as root before it
// drops privileges and enters bubblewrap (see runStep's `joinFiles`). Without a usable cgroup hierarchy the build
// runs uncapped and says so. (Docker targets' build containers carry their caps in the container itself.)
import { InstanceCgroup, detectCgroupLayout } from '../runtime/process/cgroups.ts';

/** A build's cgroup: the files a step writes its pid into, and cleanup. */
export interface BuildCgroup {
  joinFiles: string[];
  close(): void;
}

/** Creates the build's cgroup with these limits, or returns undefined (with the reason logged) when it cannot. */
export function openBuildCgroup(name: string, limits: { cpu: number; memoryBytes: number }, say: (line: string) => void): BuildCgroup | undefined {
  let layout;
  try { layout = detectCgroupLayout(); } catch { layout = null; }
  if (!layout) {
    say('note: no cgroup hierarchy here: build steps run without a cpu/memory cap');
    return undefined;
  }
  const cg = new InstanceCgroup(layout, 'pier-builds', name);
  try {
    cg.create({ cpu: limits.cpu, memoryBytes: limits.memoryBytes, pids: 4096 });
  } catch (err) {
    say(`note: build steps run without a cpu/memory cap (${(err as Error).message})`);
    return undefined;
  }
  return {
    joinFiles: cg.procsFiles(),
    close() {
      try { cg.killAll(); cg.destroy(); } catch { /* a busy cgroup is removed with the next build of that name */ }
    },
  };
}
