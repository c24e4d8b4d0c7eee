// Where the CLI finds the API and its token: flag, then environment, then the credentials.json `pier up` wrote.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The default API address of a local `pier up`. */
export const DEFAULT_URL = 'http://127.0.0.1:7700';

/** The resolved connection settings. */
export interface Settings {
  url: string;
  token: string | undefined;
  credentialsPath: string;
}

/** The credentials file `pier up` writes: `<PIER_DATA_DIR or ~/.pier>/credentials.json`. */
export function credentialsPath(env: Record<string, string | undefined>): string {
  const dataDir = env.PIER_DATA_DIR || join(env.HOME || homedir(), '.pier');
  return join(dataDir, 'credentials.json');
}

/** Resolves url and token: `--url`/`--token`, then PIER_URL/PIER_TOKEN, then credentials.json, then the default URL. */
export function resolveSettings(
  flags: { url?: string; token?: string },
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
): Settings {
  const path = credentialsPath(env);
  let saved: { url?: unknown; token?: unknown } = {};
  try {
    saved = JSON.parse(readFile(path)) as typeof saved;
  } catch {
    // No credentials file (or an unreadable one) just means flags, env or defaults must supply the settings.
  }
  const savedUrl = typeof saved.url === 'string' ? saved.url : undefined;
  const savedToken = typeof saved.token === 'string' ? saved.token : undefined;
  const url = (flags.url || env.PIER_URL || savedUrl || DEFAULT_URL).replace(/\/+$/, '');
  const token = flags.token || env.PIER_TOKEN || savedToken || undefined;
  return { url, token, credentialsPath: path };
}
