// What build steps see besides the app's files: the service's env (secrets resolved) and the operator's package
// settings (the host's CA bundle, proxies, npm/pip/Go registry mirrors), configured once for the installation in
// src/config.ts. For images the builder writes them into the context's .pier-build/ (read by the build stage only);
// host steps get them as env.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_FILES_DIR } from './detect.ts';

/** The operator's package settings for builds (PIER_BUILD_*); every field is optional. */
export interface BuildPackageSettings {
  /** A CA bundle (PEM) every build trusts in addition to the base image's: TLS-intercepting proxies. */
  caFile?: string;
  npmRegistry?: string;
  pipIndexUrl?: string;
  goProxy?: string;
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** The env that points package managers at the settings; `caPath` is where the CA bundle is inside the build. */
export function packageEnv(s: BuildPackageSettings, caPath: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  if (caPath) {
    // Node (npm, npx, corepack) adds it to its roots; Python's pip/requests and uv, Go, curl and git replace theirs.
    Object.assign(env, { NODE_EXTRA_CA_CERTS: caPath, SSL_CERT_FILE: caPath, PIP_CERT: caPath, REQUESTS_CA_BUNDLE: caPath, GIT_SSL_CAINFO: caPath, CURL_CA_BUNDLE: caPath });
  }
  if (s.npmRegistry) env.npm_config_registry = s.npmRegistry;
  if (s.pipIndexUrl) Object.assign(env, { PIP_INDEX_URL: s.pipIndexUrl, UV_INDEX_URL: s.pipIndexUrl });
  if (s.goProxy) env.GOPROXY = s.goProxy;
  if (s.httpProxy) Object.assign(env, { HTTP_PROXY: s.httpProxy, http_proxy: s.httpProxy });
  if (s.httpsProxy) Object.assign(env, { HTTPS_PROXY: s.httpsProxy, https_proxy: s.httpsProxy });
  if (s.noProxy) Object.assign(env, { NO_PROXY: s.noProxy, no_proxy: s.noProxy });
  return env;
}

/** The env of a build's steps: the operator's settings first, so a service's own value (PIP_INDEX_URL...) wins. */
export function stepEnv(s: BuildPackageSettings, caPath: string | undefined, serviceEnv: Record<string, string>): Record<string, string> {
  return { ...packageEnv(s, caPath), ...serviceEnv };
}

/** One `KEY='value'` line per variable, for sh; names that are not shell identifiers cannot be exported and are left out. */
export function shellEnvFile(env: Record<string, string>): string {
  return Object.entries(env).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'\n`).join('');
}

const STEP_SCRIPT = [
  '#!/bin/sh',
  '# A build step of Pier: the build env (the service env and the operator package settings), then the command.',
  'set -a',
  '. /pier-build/env',
  'if [ -f /app/.pier-build/late.env ]; then . /app/.pier-build/late.env; fi',
  'set +a',
  'exec /bin/sh -c "$1"',
  '',
].join('\n');

/**
 * Variables that change with every deployment. They go into late.env, which arrives with the source, so the
 * dependency layer (keyed by env, CA bundle and manifests) stays cached from one deployment to the next.
 */
export const PER_DEPLOYMENT_KEYS = ['KOYEB_DEPLOYMENT_ID'];

/** Writes .pier-build/{env,late.env,step,ca.crt} into a build context (mode 0600: the env may hold secrets). */
export function writeBuildFiles(contextDir: string, s: BuildPackageSettings, serviceEnv: Record<string, string>): string[] {
  const dir = join(contextDir, BUILD_FILES_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = ['env', 'late.env', 'step', 'ca.crt'];
  // Always there (empty without a CA setting) so the Dockerfile can name it.
  if (s.caFile) copyFileSync(s.caFile, join(dir, 'ca.crt')); else writeFileSync(join(dir, 'ca.crt'), '');
  const all = stepEnv(s, s.caFile ? '/pier-build/ca.crt' : undefined, serviceEnv);
  const late = Object.fromEntries(Object.entries(all).filter(([k]) => PER_DEPLOYMENT_KEYS.includes(k)));
  const stable = Object.fromEntries(Object.entries(all).filter(([k]) => !PER_DEPLOYMENT_KEYS.includes(k)));
  writeFileSync(join(dir, 'env'), shellEnvFile(stable), { mode: 0o600 });
  writeFileSync(join(dir, 'late.env'), shellEnvFile(late), { mode: 0o600 });
  writeFileSync(join(dir, 'step'), STEP_SCRIPT, { mode: 0o700 });
  return [BUILD_FILES_DIR, ...files.map((f) => `${BUILD_FILES_DIR}/${f}`)];
}

/** What package managers print when a TLS certificate cannot be verified (npm, pip, uv, Go, git, curl). */
const UNTRUSTED_TLS = /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|unable to get local issuer certificate|CERTIFICATE_VERIFY_FAILED|certificate signed by unknown authority|invalid peer certificate|SSL certificate problem/i;

/** The fix to add to a failed build's message when its log shows an untrusted TLS certificate, if it does. */
export function tlsHint(lines: string[], s: BuildPackageSettings): string | undefined {
  if (!lines.some((l) => UNTRUSTED_TLS.test(l))) return undefined;
  return s.caFile
    ? `a registry's TLS certificate was not trusted although builds carry ${s.caFile} (PIER_BUILD_CA_FILE): add the issuing CA to that bundle`
    : 'a registry\'s TLS certificate was not trusted: behind a TLS-intercepting proxy, set PIER_BUILD_CA_FILE to the host\'s CA bundle (e.g. /etc/ssl/certs/ca-certificates.crt) and restart Pier (docs/buildpacks.md)';
}
