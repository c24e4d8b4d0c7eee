// The HAProxy edge's one-at-a-time work (applying route tables, certificates, restarts). A job that throws is
// reported and never stops the jobs after it: with a bare promise chain one unexpected throw would leave the chain
// rejected, every later table silently skipped and every drain failing, with HAProxy serving its old table forever.

export interface JobQueue {
  /** Runs `job` after every job queued before it; resolves when it ended (a throw is handed to onError). */
  push(what: string, job: () => Promise<void> | void): Promise<void>;
  /** Resolves once every job queued so far has ended; never rejects. */
  idle(): Promise<void>;
}

export function jobQueue(onError: (what: string, err: Error) => void): JobQueue {
  let tail: Promise<void> = Promise.resolve();
  return {
    push(what, job) {
      tail = tail.then(job).catch((err: unknown) => {
        try { onError(what, err instanceof Error ? err : new Error(String(err))); } catch { /* a reporter must not break the queue */ }
      });
      return tail;
    },
    idle: () => tail,
  };
}
