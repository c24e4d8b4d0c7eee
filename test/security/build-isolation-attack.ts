// The attack of issue #16 item 1, shared by the build-isolation suites: a fake data directory holding a master key
// and an admin token, and a tenant build command that tries to print them, to write on the host (its root's home,
// the data dir, /tmp), to write a host sysctl, to list /sys and to dump its env. `verdict` reads the build log.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A data directory with secrets in it, and the names of the files the attack tries to create. */
export interface AttackSetup {
  dataDir: string;
  masterKey: Buffer;
  adminToken: string;
  marker: string;
  /** The tenant's build command. */
  command: string;
  /** Host paths the attack tries to create; none may exist afterwards. */
  planted: string[];
}

/** Makes the data directory and the attack command (the data dir path is the real one: the attacker knows it). */
export function attackSetup(prefix: string): AttackSetup {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const masterKey = randomBytes(32);
  const adminToken = `pier-admin-${randomBytes(12).toString('hex')}`;
  writeFileSync(join(dataDir, 'master.key'), masterKey, { mode: 0o600 });
  writeFileSync(join(dataDir, 'credentials.json'), JSON.stringify({ token: adminToken, url: 'http://127.0.0.1:7700' }), { mode: 0o600 });
  const marker = randomBytes(6).toString('hex');
  const planted = [`/root/pwned-${marker}`, join(dataDir, `pwned-${marker}`), join(tmpdir(), `pwned-${marker}`)];
  const command = [
    'id',
    `od -An -tx1 ${dataDir}/master.key`,
    `cat ${dataDir}/credentials.json`,
    // Markers are split by "" so the echoed command line itself never contains them.
    ...planted.map((p) => `touch ${p} && echo WROTE""-${p}`),
    'echo 5 > /proc/sys/vm/swappiness && echo SYSCTL""-WRITTEN',
    'ls /sys/kernel >/dev/null 2>&1 && echo SYS""-VISIBLE',
    'env | sed "s/^/ENV: /"',
    'echo ATTACK""-DONE',
  ].join('; ');
  return { dataDir, masterKey, adminToken, marker, command, planted };
}

/** What a build log says the attack achieved (every field must be false for the build to be isolated). */
export function verdict(a: AttackSetup, log: string): Record<string, boolean> {
  const hex = [...a.masterKey].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return {
    ranAsHostRoot: /uid=0\(/.test(log) || /^uid=0 /m.test(log),
    readMasterKey: log.includes(hex.slice(0, 23)) || log.includes(a.masterKey.toString('base64')),
    readAdminToken: log.includes(a.adminToken),
    // The sandbox's own /tmp is private and writable: only the host's copy of that path counts.
    wroteHost: a.planted.some((p) => existsSync(p)) || a.planted.slice(0, 2).some((p) => log.includes(`WROTE-${p}`)),
    wroteSysctl: /SYSCTL-WRITTEN/.test(log),
    sawSys: /SYS-VISIBLE/.test(log),
    leakedPierEnv: /^ENV: PIER_/m.test(log),
    rootHome: /^ENV: HOME=\/root$/m.test(log),
  };
}

/** The same object with every field false (some may be overridden: Docker shows containers a read-only /sys). */
export function isolated(over: Record<string, boolean> = {}): Record<string, boolean> {
  return { ranAsHostRoot: false, readMasterKey: false, readAdminToken: false, wroteHost: false, wroteSysctl: false, sawSys: false, leakedPierEnv: false, rootHome: false, ...over };
}
