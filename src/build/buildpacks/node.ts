// The Node buildpack: the lockfile picks the package manager (pnpm-lock.yaml, yarn.lock, package-lock.json, else
// npm install), devDependencies are installed for the build and pruned after it (as Heroku and the Cloud Native
// Buildpacks do), and the run command is the start script, the main file, or, for a Vite app without one, its
// built dist/ served as a static site.
import type { BuildPlan, StackContext } from '../plan.ts';

interface PackageJson {
  main?: string; packageManager?: string; scripts?: Record<string, string>;
  dependencies?: Record<string, string>; devDependencies?: Record<string, string>;
}

/** A package manager a Node app may use, with the version its package.json pins (packageManager field). */
export interface NodePackageManager { name: 'npm' | 'pnpm' | 'yarn'; version?: string; berry: boolean; locked: boolean }

function parsePackage(text: string): PackageJson {
  try { return JSON.parse(text) as PackageJson; } catch (err) { throw new Error(`package.json is not valid JSON: ${(err as Error).message}`); }
}

/** Which package manager installs this app: the lockfile decides, the packageManager field pins the version. */
export function nodePackageManager(files: StackContext['files'], pkg: { packageManager?: string }): NodePackageManager {
  const pinned = /^(npm|pnpm|yarn)@([\w.+-]+)/.exec(pkg.packageManager ?? '');
  const version = (name: string) => pinned && pinned[1] === name ? pinned[2].replace(/\+.*$/, '') : undefined;
  if (files.exists('pnpm-lock.yaml')) return { name: 'pnpm', version: version('pnpm'), berry: false, locked: true };
  if (files.exists('yarn.lock')) {
    const berry = /__metadata:/.test(files.read('yarn.lock') ?? '') || /^[2-9]/.test(version('yarn') ?? '');
    return { name: 'yarn', version: version('yarn'), berry, locked: true };
  }
  const locked = files.exists('package-lock.json') || files.exists('npm-shrinkwrap.json');
  if (!locked && pinned && pinned[1] !== 'npm') return { name: pinned[1] as 'pnpm' | 'yarn', version: pinned[2], berry: pinned[1] === 'yarn' && /^[2-9]/.test(pinned[2]), locked: false };
  return { name: 'npm', berry: false, locked };
}

/**
 * The command that runs pnpm or yarn without installing it globally (the host's npm fetches it once into its cache,
 * through the operator's registry mirror and CA like every other package).
 */
function tool(pm: NodePackageManager): string {
  if (pm.name === 'pnpm') return `npx --yes pnpm@${pm.version ?? '9'}`;
  if (pm.berry) return `npx --yes -p @yarnpkg/cli-dist@${pm.version ?? '4'} yarn`;
  return `npx --yes yarn@${pm.version ?? '1'}`;
}

/**
 * Yarn Berry links Plug'n'Play by default, which plain `node` (and so `npm start`) cannot resolve: unless the
 * project's .yarnrc.yml chooses a nodeLinker itself, Pier asks for a node_modules folder.
 */
function berryLinker(yarnrc: string | undefined): string {
  return /^\s*nodeLinker\s*:/m.test(yarnrc ?? '') ? '' : 'YARN_NODE_LINKER=node-modules ';
}

function installCommand(pm: NodePackageManager, yarnrc: string | undefined): string {
  if (pm.name === 'npm') return pm.locked ? 'npm ci --include=dev --no-audit --no-fund' : 'npm install --include=dev --no-audit --no-fund';
  if (pm.name === 'pnpm') return `${tool(pm)} install ${pm.locked ? '--frozen-lockfile' : '--no-frozen-lockfile'} --prod=false`;
  if (pm.berry) return `${berryLinker(yarnrc)}${tool(pm)} install ${pm.locked ? '--immutable' : ''}`.trim();
  return `${tool(pm)} install ${pm.locked ? '--frozen-lockfile' : ''} --production=false --non-interactive`.replace(/\s+/g, ' ');
}

/** Removes devDependencies once the build is done (yarn has no such step: its dev packages stay). */
function pruneCommand(pm: NodePackageManager): string | undefined {
  if (pm.name === 'npm') return 'npm prune --omit=dev --no-audit --no-fund';
  if (pm.name === 'pnpm') return `${tool(pm)} prune --prod`;
  return undefined;
}

/** The files the install needs, copied first so the dependency layer stays cached while they do not change. */
const DEPENDENCY_FILES = ['package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'yarn.lock', '.yarnrc.yml', '.yarnrc', '.npmrc'];

/** Plans a Node app. */
export function nodePlan(c: StackContext, pkgText: string): BuildPlan {
  const pkg = parsePackage(pkgText);
  const deps = Object.keys(pkg.dependencies ?? {}).length;
  const devDeps = Object.keys(pkg.devDependencies ?? {}).length;
  const pm = nodePackageManager(c.files, pkg);
  const run = (script: string) => pm.name === 'npm' ? `npm run ${script}` : `${tool(pm)} run ${script}`;
  const entry = [pkg.main, 'server.js', 'index.js', 'app.js'].find((f) => f && c.files.exists(f));
  const usesVite = Boolean(pkg.dependencies?.vite ?? pkg.devDependencies?.vite);
  // A Vite SPA has no server of its own: its build writes dist/, which busybox httpd serves like a static site.
  const spa = !pkg.scripts?.start && !entry && usesVite && Boolean(pkg.scripts?.build);
  const start = pkg.scripts?.start ? 'npm start' : entry ? `node ${entry}` : spa ? 'busybox httpd -f -p "${PORT:-8000}" -h /app/dist' : undefined;
  const prune = devDeps > 0 ? pruneCommand(pm) : undefined;
  const builds = c.build(pkg.scripts?.build ? [run('build')] : []);
  return {
    stack: 'node', runCommand: c.chosen(start, 'node'), hostCommands: [],
    dependencyFiles: DEPENDENCY_FILES.filter((f) => c.files.exists(f)),
    installCommands: deps + devDeps > 0 ? [installCommand(pm, c.files.read('.yarnrc.yml'))] : [],
    buildCommands: builds,
    // The static SPA needs none of its packages at run time.
    pruneCommands: spa && !c.overrideRun ? ['rm -rf node_modules'] : prune ? [prune] : [],
    // A project that keeps Plug'n'Play on purpose gets its resolver loaded into every node process.
    runEnv: pm.berry && /^\s*nodeLinker\s*:\s*["']?pnp/m.test(c.files.read('.yarnrc.yml') ?? '') ? { NODE_OPTIONS: '--require /app/.pnp.cjs' } : {},
    buildEnv: { NEXT_TELEMETRY_DISABLED: '1', npm_config_update_notifier: 'false' },
  };
}
