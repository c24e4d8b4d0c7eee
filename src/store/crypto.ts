// Secret values at rest: AES-256-GCM under a 32-byte master key kept in a 0600 file beside the database.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Reads the master key from `file` (or `<dataDir>/master.key`), creating a random one with mode 0600 on first start. */
export function loadMasterKey(dataDir: string, file?: string): Buffer {
  const path = file || join(dataDir, 'master.key');
  if (!existsSync(path)) {
    if (file) throw new Error(`PIER_MASTER_KEY_FILE ${file} does not exist: create it with 32 random bytes (base64 or raw)`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  const raw = readFileSync(path);
  if (raw.length === 32) return raw;
  const decoded = Buffer.from(raw.toString('utf8').trim(), 'base64');
  if (decoded.length !== 32) throw new Error(`master key ${path} must hold 32 bytes (raw or base64), found ${decoded.length}`);
  return decoded;
}

/** Encrypts a string; the result is `v1.<iv>.<tag>.<ciphertext>` in base64 parts. */
export function encryptSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join('.');
}

/** Decrypts what encryptSecret produced; throws if the key is wrong or the data was altered. */
export function decryptSecret(key: Buffer, sealed: string): string {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unknown secret encoding');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
}

/** Where the master key lives: `file` or `<dataDir>/master.key`. */
export function masterKeyPath(dataDir: string, file?: string): string {
  return file || join(dataDir, 'master.key');
}

/** Writes a fresh random key to `<path>.new` (0600) and returns it; commitMasterKey moves it into place. */
export function stageNewMasterKey(path: string): Buffer {
  const key = randomBytes(32);
  writeFileSync(`${path}.new`, key.toString('base64') + '\n', { mode: 0o600 });
  chmodSync(`${path}.new`, 0o600);
  return key;
}

/** Atomically replaces the key file by the staged `<path>.new` (rename on the same filesystem). */
export function commitMasterKey(path: string): void {
  renameSync(`${path}.new`, path);
}
