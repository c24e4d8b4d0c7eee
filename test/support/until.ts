// Bounded polling for integration tests: wait on a condition, never on a fixed sleep.

/** Polls `check` every `everyMs` until it returns a truthy value; throws after `ms` naming `what` and the last value seen. */
export async function until<T>(what: string, check: () => Promise<T | false | null | undefined>, ms = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as T;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
