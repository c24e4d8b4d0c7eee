// Scheduled backups with retention (PIER_BACKUP_SCHEDULE, PIER_BACKUP_KEEP, PIER_BACKUP_DIR), run by the leader only
// (platform.ts puts this component among the lease holder's), and `pier backup list`. Level-triggered: the next
// backup is due one interval after the newest scheduled file in the directory, so a restart neither takes one at
// every start nor skips one. One at a time; a failure is logged once with its reason and retried at the next tick.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup } from './create.ts';
import { verifyBackup } from './restore.ts';
import { BackupError } from './errors.ts';
import type { Manifest } from './manifest.ts';

/** Names of the files the scheduler writes (and the only ones retention ever removes): pier-20261202T100300Z.tar.gz. */
const SCHEDULED = /^pier-(\d{8}T\d{6}Z)\.tar\.gz$/;

/** The file name of a backup taken at `at` (UTC, seconds). */
export function scheduledName(at: Date): string {
  return `pier-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}.tar.gz`;
}

/** The time a scheduled backup's name records (ms), or undefined for a file the scheduler did not write. */
export function scheduledTime(name: string): number | undefined {
  const m = SCHEDULED.exec(name);
  if (!m) return undefined;
  const t = m[1]!;
  return Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`);
}

/** Scheduled backups in `dir`, oldest first (other files are not the scheduler's: never listed, never removed). */
export function scheduledBackups(dir: string): { name: string; path: string; at: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const at = scheduledTime(name);
    return at === undefined ? [] : [{ name, path: join(dir, name), at }];
  }).sort((a, b) => a.at - b.at);
}

/** Which scheduled backups retention removes to keep the newest `keep` (pure). */
export function toRemove<T extends { at: number }>(backups: T[], keep: number): T[] {
  const sorted = [...backups].sort((a, b) => a.at - b.at);
  return sorted.slice(0, Math.max(0, sorted.length - keep));
}

/** What the scheduler needs. */
export interface BackupScheduleOptions {
  dataDir: string;
  masterKeyFile?: string;
  databaseUrl?: string;
  /** Where the backups go (PIER_BACKUP_DIR, default <data dir>/backups). */
  dir: string;
  intervalMs: number;
  /** How many scheduled backups to keep (the newest). */
  keep: number;
  log: (line: string) => void;
  /** The clock (tests). */
  now?: () => number;
}

/** The scheduler, shaped as a component (start/stop) plus what tests and the CLI call. */
export interface BackupScheduler {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Takes one backup now unless one is running (then resolves with undefined), applies retention. */
  runOnce(): Promise<{ file: string; removed: string[] } | undefined>;
  /** When the next backup is due (ms since the epoch). */
  nextDueAt(): number;
}

function megabytes(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** Creates the scheduler (it does nothing until start()). */
export function backupScheduler(opts: BackupScheduleOptions): BackupScheduler {
  const now = opts.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<{ file: string; removed: string[] } | undefined> | undefined;
  let stopped = true;
  let abort: AbortController | undefined;
  let lastFailure = 0;

  const nextDueAt = (): number => {
    const newest = scheduledBackups(opts.dir).at(-1);
    const base = Math.max(newest?.at ?? -Infinity, lastFailure);
    return base === -Infinity ? now() : base + opts.intervalMs;
  };

  const take = async (): Promise<{ file: string; removed: string[] } | undefined> => {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    // Names have a one-second resolution: never overwrite the newest (a second run within the same second waits).
    let at = new Date(Math.floor(now() / 1000) * 1000);
    const newest = scheduledBackups(opts.dir).at(-1);
    if (newest && newest.at >= at.getTime()) at = new Date(newest.at + 1000);
    const file = join(opts.dir, scheduledName(at));
    const t0 = performance.now();
    abort = new AbortController();
    try {
      const manifest = await createBackup({
        dataDir: opts.dataDir, masterKeyFile: opts.masterKeyFile, databaseUrl: opts.databaseUrl, output: file, signal: abort.signal,
      });
      const removed: string[] = [];
      for (const old of toRemove(scheduledBackups(opts.dir), opts.keep)) {
        rmSync(old.path, { force: true });
        removed.push(old.name);
      }
      lastFailure = 0;
      opts.log(`pier: backup written: ${file} (${megabytes(statSync(file).size)} in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
        `schema ${manifest.schema_version}, ${manifest.counts.services ?? 0} services; keeping the newest ${opts.keep}` +
        `${removed.length ? `, removed ${removed.join(', ')}` : ''}); next in ${Math.round(opts.intervalMs / 60_000)} min`);
      return { file, removed };
    } catch (err) {
      lastFailure = now();
      if (!stopped || !abort.signal.aborted) {
        const why = err instanceof BackupError ? `${err.message} [${err.code}]` : (err as Error)?.message ?? String(err);
        opts.log(`pier: scheduled backup failed: ${why}; retrying in ${Math.round(opts.intervalMs / 60_000)} min (no file was left in ${opts.dir})`);
      }
      return undefined;
    } finally {
      abort = undefined;
    }
  };

  const runOnce = (): Promise<{ file: string; removed: string[] } | undefined> => {
    // Never two at once: a tick (or a call) while one runs takes nothing.
    if (running) return Promise.resolve(undefined);
    running = take().finally(() => { running = undefined; });
    return running;
  };

  const arm = (): void => {
    if (stopped) return;
    // setTimeout's limit is about 24.8 days: longer waits are re-armed.
    const wait = Math.min(Math.max(0, nextDueAt() - now()), 2 ** 31 - 1);
    timer = setTimeout(() => {
      timer = undefined;
      if (nextDueAt() > now()) return arm();
      void runOnce().finally(arm);
    }, wait);
    timer.unref?.();
  };

  return {
    name: 'backup-schedule',
    async start() {
      stopped = false;
      arm();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      abort?.abort();
      await running;
    },
    runOnce,
    nextDueAt,
  };
}

/** One line of `pier backup list`. */
export interface ListedBackup {
  name: string;
  path: string;
  size: number;
  /** The manifest's created_at, else the file's mtime. */
  time: string;
  schema_version?: number;
  pier_version?: string;
  key_included?: boolean;
  /** `ok` when every member matched its checksum, `not checked`, else the error code (backup_truncated...). */
  checksums: string;
  error?: string;
}

/** Every scheduled backup in `dir` (newest first) with its manifest's facts and, with `verify`, its checksum status. */
export async function listBackups(dir: string, opts: { verify?: boolean } = {}): Promise<ListedBackup[]> {
  const out: ListedBackup[] = [];
  for (const b of scheduledBackups(dir).reverse()) {
    const st = statSync(b.path);
    const row: ListedBackup = { name: b.name, path: b.path, size: st.size, time: new Date(b.at).toISOString(), checksums: 'not checked' };
    if (opts.verify !== false) {
      try {
        const m: Manifest = await verifyBackup(b.path);
        Object.assign(row, { time: m.created_at, schema_version: m.schema_version, pier_version: m.pier_version, key_included: m.key_included, checksums: 'ok' });
      } catch (err) {
        row.checksums = err instanceof BackupError ? err.code : 'unreadable';
        row.error = (err as Error)?.message ?? String(err);
      }
    }
    out.push(row);
  }
  return out;
}
