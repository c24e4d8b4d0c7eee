// The cpu/memory cap of host-side build steps (directory builds for the process runtime, Go toolchain steps): one
// cgroup per build under `pier-builds`, so a build cannot starve the instances serving traffic. Steps join it
// before they exec (see runStep's `joinFiles`). Without a usable cgroup hierarchy the build runs uncapped and says so.
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
    say('note: no cgroup hierarchy here: host build steps run without a cpu/memory cap');
    return undefined;
  }
  const cg = new InstanceCgroup(layout, 'pier-builds', name);
  try {
    cg.create({ cpu: limits.cpu, memoryBytes: limits.memoryBytes, pids: 4096 });
  } catch (err) {
    say(`note: host build steps run without a cpu/memory cap (${(err as Error).message})`);
    return undefined;
  }
  return {
    joinFiles: cg.procsFiles(),
    close() {
      try { cg.killAll(); cg.destroy(); } catch { /* a busy cgroup is removed with the next build of that name */ }
    },
  };
}
