// Backup and restore benchmark: fills a temp store with N services (each with its first deployment) through the
// actions layer, then times `createBackup` (SQLite online backup + tar.gz + checksums), `verifyBackup` (the full read
// restore does before writing) and `restoreBackup` into a new directory, with the file's size.
// Standalone: `node bin/run-ts.mjs bench/backup.ts [N...]` prints JSON (default: 1000 and 10000 services).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startPier } from '../src/main.ts';
import { createApp, createService, type ActionContext } from '../src/actions/index.ts';
import { createBackup, restoreBackup, verifyBackup } from '../src/backup/index.ts';

/** What benchBackup reports for one store size. */
export interface BackupResult { services: number; deployments: number; database_mb: number; file_mb: number; backup_ms: number; verify_ms: number; restore_ms: number }

const definition = {
  type: 'WEB', docker: { image: 'nginx:1.27' }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ port: 8080, path: '/' }],
  regions: ['fra'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
};

/** Runs the benchmark for one store size (the API only: no runtime, no instances). */
export async function benchBackupOnce(services: number): Promise<BackupResult> {
  const root = mkdtempSync(join(tmpdir(), 'pier-bench-backup-'));
  try {
    const dataDir = join(root, 'data');
    const pier = await startPier(loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0' }, {}), { log: () => {}, components: () => [] });
    let appId = '';
    for (let start = 0; start < services; start += 500) {
      await pier.store.db.transaction(async (tx) => {
        const ctx: ActionContext = { store: { ...pier.store, db: tx }, organizationId: pier.organizationId };
        for (let i = start; i < Math.min(services, start + 500); i++) {
          if (i % 16 === 0) appId = (await createApp(ctx, { name: `app-${i / 16}` })).id;
          await createService(ctx, { app_id: appId, name: `svc-${i}`, definition: { ...definition, routes: [{ port: 8080, path: `/svc-${i}` }] } });
        }
      });
    }
    // Taken while this Pier holds the database open, as in production.
    const file = join(root, 'backup.tar.gz');
    let t0 = performance.now();
    const manifest = await createBackup({ dataDir, output: file });
    const backupMs = performance.now() - t0;
    await pier.close();
    t0 = performance.now();
    await verifyBackup(file);
    const verifyMs = performance.now() - t0;
    t0 = performance.now();
    await restoreBackup({ file, dataDir: join(root, 'restored') });
    const restoreMs = performance.now() - t0;
    const dbBytes = manifest.members.find((m) => m.name === 'pier.db')!.size;
    return {
      services, deployments: manifest.counts.deployments!, database_mb: Number((dbBytes / 1e6).toFixed(1)),
      file_mb: Number((statSync(file).size / 1e6).toFixed(1)), backup_ms: Math.round(backupMs), verify_ms: Math.round(verifyMs), restore_ms: Math.round(restoreMs),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs the benchmark for each size. */
export async function benchBackup(opts: { sizes?: number[] } = {}): Promise<BackupResult[]> {
  const out: BackupResult[] = [];
  for (const n of opts.sizes ?? [1000, 10_000]) out.push(await benchBackupOnce(n));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  console.log(JSON.stringify(await benchBackup(sizes.length ? { sizes } : {}), null, 2));
}
