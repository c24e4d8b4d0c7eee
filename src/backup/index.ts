// Backups and restores of a Pier data directory (README.md beside this file).
export { createBackup, pierVersion, type BackupOptions } from './create.ts';
export { restoreBackup, verifyBackup, type RestoreOptions, type RestoreResult } from './restore.ts';
export { BackupError, type BackupErrorCode } from './errors.ts';
export type { Manifest, ManifestMember } from './manifest.ts';
export { backupScheduler, listBackups, scheduledBackups, scheduledName, toRemove, type BackupScheduler, type BackupScheduleOptions, type ListedBackup } from './schedule.ts';
