// Where scripts/install-koyeb-clients.sh puts Koyeb's own clients, so the compat suites find them without guessing.
// The pinned versions live in the install script only; this module reads them from there.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const installScript = path.join(repoRoot, 'scripts/install-koyeb-clients.sh');

/** Reads a `NAME="${NAME:-default}"` pin from the install script; the environment may override it as the script does. */
function pinned(name: 'KOYEB_CLI_VERSION' | 'KOYEB_SDK_VERSION'): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  const match = readFileSync(installScript, 'utf8').match(new RegExp(`${name}="\\$\\{${name}:-([^}]+)\\}"`));
  if (!match) throw new Error(`${installScript} has no ${name} pin`);
  return match[1];
}

function cacheRoot(): string {
  return process.env.PIER_CACHE_DIR || path.join(homedir(), '.cache', 'pier');
}

/** Path of the `koyeb` CLI binary, or an error message telling how to install it. */
export function koyebCli(): { path: string } | { error: string } {
  const version = pinned('KOYEB_CLI_VERSION');
  const candidate =
    process.env.KOYEB_CLI_BIN ||
    (version === 'latest' ? newestCachedCli() : undefined) ||
    path.join(cacheRoot(), `koyeb-cli-${version}`, 'bin', 'koyeb');
  if (existsSync(candidate)) return { path: candidate };
  return {
    error:
      `the koyeb CLI is not installed (looked for ${candidate}). Run \`bash scripts/install-koyeb-clients.sh\` ` +
      '(it builds the source kept in ../shared/vendor/koyeb-cli with Go when that folder is beside the clone, else asks ' +
      'the Go module proxy, which answers 403 for github.com/koyeb/koyeb-cli), or set KOYEB_CLI_BIN to a koyeb binary.',
  };
}

/** With the `latest` pin the install script names the cache directory after the resolved version: take the newest. */
function newestCachedCli(): string | undefined {
  if (!existsSync(cacheRoot())) return undefined;
  const bins = readdirSync(cacheRoot())
    .filter((name) => name.startsWith('koyeb-cli-'))
    .map((name) => path.join(cacheRoot(), name, 'bin', 'koyeb'))
    .filter((bin) => existsSync(bin));
  return bins.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** Path of the venv python that has koyeb-sdk installed, or an error message telling how to install it. */
export function koyebSdkPython(): { path: string } | { error: string } {
  const explicit = process.env.KOYEB_SDK_PYTHON;
  const candidate = explicit || path.join(cacheRoot(), `koyeb-sdk-${pinned('KOYEB_SDK_VERSION')}`, 'venv', 'bin', 'python');
  if (existsSync(candidate)) return { path: candidate };
  return {
    error:
      `the Koyeb Python SDK is not installed (looked for ${candidate}). ` +
      'Run `bash scripts/install-koyeb-clients.sh --sdk-only` (pip installs koyeb-sdk from PyPI into a cached venv).',
  };
}
