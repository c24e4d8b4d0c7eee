// Builds and image removals on one engine must not overlap. Removing a tagged image also removes its untagged
// parents: the classic builder's intermediate images, which are its layer cache. A build running meanwhile may have
// just picked one of them as the cached result of a step ("Using cache"), and then fails with `unable to find image
// "sha256:…"` when it goes (seen in CI: a deleted service's image collected while the next service's build reused the
// same Python steps). So builds share the engine, and a removal runs only while no build does: the collector asks
// `whileIdle` and defers when a build runs; a build waits for a removal in progress (one DELETE, well under a second).
// The gate is per engine socket and per process: one Pier's builder and collector run in the same process (the
// lease holder's); another process removing images by hand on the same engine is not covered.

interface Gate {
  builds: number;
  /** Removals in progress, and who waits for them to end. */
  removals: number;
  waiting: (() => void)[];
}

const gates = new Map<string, Gate>();

function gate(socket: string): Gate {
  let g = gates.get(socket);
  if (!g) gates.set(socket, g = { builds: 0, removals: 0, waiting: [] });
  return g;
}

/** Runs one build on the engine at `socket`: after any removal in progress, and keeping removals out until it ends. */
export async function duringBuild<T>(socket: string, fn: () => Promise<T>): Promise<T> {
  const g = gate(socket);
  while (g.removals > 0) await new Promise<void>((resolve) => g.waiting.push(resolve));
  g.builds++;
  try {
    return await fn();
  } finally {
    g.builds--;
  }
}

/** Runs `fn` (an image removal) only if no build runs on the engine at `socket`; 'building' when one does. */
export async function whileIdle<T>(socket: string, fn: () => Promise<T>): Promise<T | 'building'> {
  const g = gate(socket);
  if (g.builds > 0) return 'building';
  g.removals++;
  try {
    return await fn();
  } finally {
    if (--g.removals === 0) for (const wake of g.waiting.splice(0)) wake();
  }
}

/** Builds running on the engine at `socket` (tests, diagnostics). */
export function buildsRunning(socket: string): number {
  return gates.get(socket)?.builds ?? 0;
}
