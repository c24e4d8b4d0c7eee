// The host programs the runtime drivers start as root (ip, iptables-restore, nsenter, mkfs.ext4, mount...): found in
// the system directories only, run with argv arrays and a fixed minimal environment, failing with their stderr.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where system programs are looked up, in order; also the PATH they run with. */
export const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The absolute path of a system program, or undefined when it is not installed. */
export function program(name: string): string | undefined {
  for (const d of SBIN) if (existsSync(join(d, name))) return join(d, name);
  return undefined;
}

/** Runs a program (argv array) with optional stdin; resolves with stdout, rejects with its stderr. */
export function runProgram(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: SBIN.join(':'), LC_ALL: 'C' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', reject);
    child.on('close', (code) => code === 0 ? resolve(out) : reject(new Error(`${file.split('/').pop()} ${args.join(' ')}: ${err.trim() || `exit ${code}`}`)));
    child.stdin.on('error', () => { /* reported by close */ });
    child.stdin.end(input ?? '');
  });
}
