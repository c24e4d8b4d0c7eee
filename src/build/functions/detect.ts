// Whether a source is a function, and the build plan that runs it behind Pier's wrapper. The rule is deliberately
// narrow so it never changes how an ordinary app builds: a source is a function when its root has a handler file
// (handler.ts, handler.mts, handler.js, handler.mjs or handler.py) AND the ordinary buildpack detection finds
// nothing to run (no Procfile, no run command, no package.json "start"/main/server.js/index.js/app.js, no
// app.py/main.py/server.py, no go.mod, no index.html). Pure: files are read through a FileView.
import { detectPlan, hasRequirements, NothingToRunError, type BuildPlan, type BuildTarget, type FileView, type PlanOverrides } from '../detect.ts';

/** Handler file names, in the order they are looked for. */
export const HANDLER_FILES = ['handler.ts', 'handler.mts', 'handler.js', 'handler.mjs', 'handler.py'] as const;

/** Where the build puts the wrapper and the compiled handler, relative to the app directory. */
export const FUNCTION_DIR = '.pier/function';

/** A function found in a source. */
export interface FunctionSource {
  language: 'typescript' | 'javascript' | 'python';
  /** The handler file, relative to the workdir. */
  handler: string;
}

/** A function's language, as users read it. */
export function languageName(fn: FunctionSource): string {
  return fn.language === 'typescript' ? 'TypeScript' : fn.language === 'javascript' ? 'JavaScript' : 'Python';
}

/** The handler file of a source, if exactly one exists; throws when several would compete. */
export function findHandler(files: FileView): FunctionSource | undefined {
  const found = HANDLER_FILES.filter((f) => files.exists(f));
  if (found.length > 1) throw new Error(`several function handlers (${found.join(', ')}): keep exactly one handler file`);
  const handler = found[0];
  if (!handler) return undefined;
  const language = handler.endsWith('.py') ? 'python' : /\.m?ts$/.test(handler) ? 'typescript' : 'javascript';
  return { language, handler };
}

/** The plan of a function: dependencies as the stack installs them, the wrapper as the run command. */
export function functionPlan(fn: FunctionSource, files: FileView, o: PlanOverrides, target: BuildTarget): BuildPlan {
  const build = o.buildCommand?.trim() ? [o.buildCommand.trim()] : [];
  const base = { hostCommands: [] as string[], buildCommands: build };
  if (fn.language === 'python') {
    const requirements = files.read('requirements.txt');
    const into = target === 'directory' ? ' --target .pydeps' : '';
    return {
      ...base, stack: 'python',
      dependencyFiles: requirements !== undefined ? ['requirements.txt'] : [],
      installCommands: hasRequirements(requirements) ? [`python3 -m pip install --no-input --disable-pip-version-check${into} -r requirements.txt`] : [],
      runCommand: `python3 /app/${FUNCTION_DIR}/wrapper.py`,
      runEnv: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...(target === 'directory' ? { PYTHONPATH: '/app/.pydeps' } : {}) },
    };
  }
  const pkgText = files.read('package.json');
  let deps = false;
  if (pkgText !== undefined) {
    try {
      const pkg = JSON.parse(pkgText) as { dependencies?: object };
      deps = Object.keys(pkg.dependencies ?? {}).length > 0;
    } catch (err) {
      throw new Error(`package.json is not valid JSON: ${(err as Error).message}`);
    }
  }
  const lock = files.exists('package-lock.json') || files.exists('npm-shrinkwrap.json');
  // Only runtime dependencies: the handler is compiled by Pier (type-only imports vanish), so devDependencies are
  // never needed to run it.
  const install = deps ? [lock ? 'npm ci --omit=dev --no-audit --no-fund' : 'npm install --omit=dev --no-audit --no-fund'] : [];
  return {
    ...base, stack: 'node',
    dependencyFiles: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'].filter((f) => files.exists(f)),
    installCommands: install,
    runCommand: `node /app/${FUNCTION_DIR}/wrapper.mjs`,
    runEnv: {},
  };
}

/** What a source builds as: an ordinary app's plan, or a function's plan and handler (see the rule above). */
export function detectSource(files: FileView, o: PlanOverrides, target: BuildTarget): { plan: BuildPlan; fn?: FunctionSource } {
  try {
    return { plan: detectPlan(files, o, target) };
  } catch (err) {
    if (!(err instanceof NothingToRunError) || o.serviceType === 'WORKER') throw err;
    const fn = findHandler(files);
    if (!fn) throw err;
    return { plan: functionPlan(fn, files, o, target), fn };
  }
}
