// Change notification for process-runtime instance directories, so that idle instances cost nothing (issue #26): one
// inotify watch (node's fs.watch) per followed instance directory, shared by everyone following it, wakes its
// followers when the supervisor appends to stdout.log/stderr.log or writes exit.json. One shared slow timer for all
// instances backs it up: inotify can drop events (queue overflow), a watch cannot be set when the host's
// fs.inotify.max_user_watches is used up, and a supervisor killed outright writes no exit.json at all.
import { watch, type FSWatcher } from 'node:fs';

/** Period of the shared safety poll: one timer for every followed instance, however many there are. */
export const SAFETY_POLL_MS = 5_000;

/**
 * The poll wakes a slice of the directories per tick, SLICES ticks per period, so each is still polled about once a
 * period but never all at once: at 1,000 instances one burst took ~50 ms of the event loop every 5 s, which the
 * edge's p99 and the starts in flight paid for (issue #26).
 */
const SLICES = 10;

/** Why a listener was woken: `change` for an inotify event (cheap checks suffice), `poll` for the safety timer. */
export type WakeReason = 'change' | 'poll';

/** Called on each wake; `file` names the entry an inotify event was about, when the kernel says. */
export type WakeListener = (why: WakeReason, file?: string) => void;

interface Entry { watcher?: FSWatcher; listeners: Set<WakeListener> }

/** The registry of watched directories; one per process (see `instanceWatches`). */
export class DirectoryWatches {
  private readonly dirs = new Map<string, Entry>();
  private timer?: NodeJS.Timeout;
  /** Where the next tick's slice starts, in the directories' insertion order. */
  private cursor = 0;

  constructor(private readonly pollMs = SAFETY_POLL_MS) {}

  /** Calls `listener` on every change in `dir` and on every safety poll; the returned function unsubscribes. */
  subscribe(dir: string, listener: WakeListener): () => void {
    let entry = this.dirs.get(dir);
    if (!entry) {
      entry = { listeners: new Set() };
      this.dirs.set(dir, entry);
      entry.watcher = this.watch(dir, entry);
    }
    entry.listeners.add(listener);
    this.timer ??= setInterval(() => this.poll(), Math.max(1, Math.floor(this.pollMs / SLICES)));
    return () => {
      const e = this.dirs.get(dir);
      if (!e || !e.listeners.delete(listener) || e.listeners.size > 0) return;
      e.watcher?.close();
      this.dirs.delete(dir);
      if (this.dirs.size === 0 && this.timer) { clearInterval(this.timer); this.timer = undefined; }
    };
  }

  /** How many directories are watched now (tests). */
  get size(): number { return this.dirs.size; }

  private watch(dir: string, entry: Entry): FSWatcher | undefined {
    try {
      const w = watch(dir, { persistent: true }, (_event, file) => notify(entry, 'change', file ?? undefined));
      // The directory went away (instance removed) or the watch broke: the safety poll still wakes the listeners,
      // and one wake now lets them notice at once.
      w.on('error', () => { w.close(); if (entry.watcher === w) entry.watcher = undefined; notify(entry, 'change'); });
      return w;
    } catch {
      return undefined; // no such directory yet, or no inotify watch left: the safety poll covers it
    }
  }

  private poll(): void {
    const entries = [...this.dirs.values()];
    if (entries.length === 0) return;
    const count = Math.ceil(entries.length / SLICES);
    const from = this.cursor % entries.length;
    this.cursor = (from + count) % entries.length;
    for (let i = 0; i < count; i++) notify(entries[(from + i) % entries.length]!, 'poll');
  }
}

function notify(entry: Entry, why: WakeReason, file?: string): void {
  for (const l of [...entry.listeners]) l(why, file);
}

/** The process-wide registry: several drivers (and followers) of one instance share its single watch. */
export const instanceWatches = new DirectoryWatches();
