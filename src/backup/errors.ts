// The backup and restore errors, each with a stable code that tests and scripts match on (never the prose).

/** The stable codes of backup and restore failures. */
export type BackupErrorCode =
  | 'backup_truncated' // the file ends early (gzip or tar cut short)
  | 'backup_corrupt' // not a Pier backup, or damaged beyond a member's checksum (gzip CRC, tar header)
  | 'backup_checksum_mismatch' // a member differs from the manifest's sha256, or members are missing or extra
  | 'backup_manifest_invalid' // no manifest, or one this Pier cannot read
  | 'backup_schema_too_new' // written by a newer Pier than this one
  | 'backup_key_required' // taken --without-key and no --key-file given
  | 'backup_key_wrong' // the key does not decrypt the backup's secrets
  | 'backup_postgres_unsupported' // PostgreSQL store, but pg_dump / pg_restore are not installed
  | 'restore_database_mismatch' // a PostgreSQL backup without --database-url, or a SQLite one with it
  | 'backup_canceled' // Ctrl-C: nothing was left behind
  | 'restore_target_not_empty'; // restore only fills an empty or missing data directory

/** A backup or restore failure the operator can act on. */
export class BackupError extends Error {
  constructor(readonly code: BackupErrorCode, message: string) {
    super(message);
    this.name = 'BackupError';
  }
}
