// In-process pub/sub of log lines: whoever appends lines publishes them; the tail websocket subscribes.

/** One stored log line. `stream` koyeb is Pier's own system line. */
export interface LogLine {
  organization_id: string;
  app_id: string;
  service_id: string;
  deployment_id: string;
  regional_deployment_id: string;
  instance_id: string;
  region?: string;
  type?: 'build' | 'runtime';
  stream: 'stdout' | 'stderr' | 'koyeb';
  msg: string;
  created_at: string;
}

/** A subscriber callback and its filter. */
type Listener = (line: LogLine) => void;

/** Fans appended log lines out to live subscribers (websocket tails). Synchronous, no buffering. */
export class LogBus {
  private readonly listeners = new Set<Listener>();
  /** Subscriptions so far: a reader of the store (the log relay) compares it across a query. */
  subscriptions = 0;

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    this.subscriptions++;
    return () => { this.listeners.delete(listener); };
  }

  /** Delivers a line to every listener; a throwing listener is removed so it cannot break the writer. */
  publish(line: LogLine): void {
    for (const l of this.listeners) {
      try {
        l(line);
      } catch {
        // A broken subscriber (closed socket) must not stop log collection; it is dropped here on purpose.
        this.listeners.delete(l);
      }
    }
  }

  /** How many listeners are attached (for metrics and tests). */
  get size(): number {
    return this.listeners.size;
  }
}
