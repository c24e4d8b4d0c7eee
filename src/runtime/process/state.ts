// On-disk state of process-runtime instances: one directory per instance under <stateDir>/instances, so a restarted
// control plane can re-adopt them. A pid is trusted only with its kernel start time, since pids get reused.
import { existsSync, readFileSync, readdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Endpoint } from '../contract.ts';

/** What the driver records about one instance when it starts it. */
export interface InstanceRecord {
  instanceId: string;
  labels: Record<string, string>;
  endpoints: Endpoint[];
  /** The detached bash supervisor and its start time (field 22 of /proc/<pid>/stat). */
  supervisorPid: number;
  supervisorStartTime: string;
  startedAt: string;
  /** The host uid (and gid) the sandbox runs as; absent in records written before sandboxes had their own. */
  uid?: number;
  /** A startup boost in force (InstanceSpec.startupCpu): the instance's own CPU limit, and when the boost ends (epoch ms). */
  boost?: { cpu: number; until: number };
}

/** The exit record the supervisor writes. */
export interface ExitRecord { exitCode: number; finishedAt?: string }

/** Paths of one instance's directory. */
export function instancePaths(stateDir: string, instanceId: string) {
  const dir = join(stateDir, 'instances', instanceId);
  return {
    dir,
    state: join(dir, 'state.json'),
    exit: join(dir, 'exit.json'),
    sandboxPid: join(dir, 'sandbox.pid'),
    stdout: join(dir, 'stdout.log'),
    stderr: join(dir, 'stderr.log'),
    supervisorLog: join(dir, 'supervisor.log'),
  };
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards), or undefined if there is no such pid. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** A process's start time in clock ticks since boot, or undefined if it does not exist. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19]; // field 22 overall
}

/** Whether pid is still the very process that was recorded (not a reused pid), and not a zombie (one read). */
export function isSameProcess(pid: number, startTime: string): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[19] === startTime && fields[0] !== 'Z';
}

/** Parent pid of a process, or undefined. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Writes the record atomically (write then rename), so a crash never leaves half a file. */
export function writeRecord(stateDir: string, rec: InstanceRecord): void {
  const p = instancePaths(stateDir, rec.instanceId);
  writeFileSync(`${p.state}.tmp`, JSON.stringify(rec, null, 2), { mode: 0o600 });
  renameSync(`${p.state}.tmp`, p.state);
}

/** Reads an instance's record, or null if there is none (or it is unreadable). */
export function readRecord(stateDir: string, instanceId: string): InstanceRecord | null {
  try {
    return JSON.parse(readFileSync(instancePaths(stateDir, instanceId).state, 'utf8')) as InstanceRecord;
  } catch {
    return null;
  }
}

/** Reads the exit record once the supervisor has written it completely. */
export function readExit(stateDir: string, instanceId: string): ExitRecord | null {
  const path = instancePaths(stateDir, instanceId).exit;
  // Asked on every wake of every follower: existsSync answers the usual "not yet" without building an exception.
  if (!existsSync(path)) return null;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { exitCode: number; finishedAt?: string };
    return typeof parsed.exitCode === 'number' ? parsed : null;
  } catch {
    return null;
  }
}

/** Ids of every instance directory that has a record. */
export function listRecords(stateDir: string): InstanceRecord[] {
  let names: string[];
  try { names = readdirSync(join(stateDir, 'instances')); } catch { return []; }
  return names.map((n) => readRecord(stateDir, n)).filter((r): r is InstanceRecord => r !== null);
}
