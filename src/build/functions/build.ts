// The function build step: compile the handler (TypeScript or JavaScript, with its relative imports) into one ES
// module with esbuild's JS API inside Pier's process, and put Pier's wrapper beside it in .pier/function/. npm
// packages stay external and resolve from the app's node_modules at run time, so they are installed by the plan
// like any Node app's. Runs before the ordinary directory/image build, which then copies .pier/function with the app.
import { copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';
import type { BuildPlan, BuildTarget, PlanOverrides } from '../detect.ts';
import type { FileView } from '../detect.ts';
import { detectSource, FUNCTION_DIR, languageName, type FunctionSource } from './detect.ts';

const WRAPPERS = join(dirname(fileURLToPath(import.meta.url)), 'wrappers');

/** Node's version the handler and wrapper are compiled for (the host's node runs them, directly or in the image). */
const NODE_TARGET = `node${process.versions.node.split('.')[0]}`;

function formatMessages(messages: Message[]): string {
  return messages.slice(0, 5).map((m) => {
    const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
    return `${at}${m.text}`;
  }).join('\n');
}

/**
 * An esbuild plugin that refuses to load any file outside the function's source directory: esbuild runs inside
 * Pier's process, as Pier's user, so a handler importing `/root/.pier/credentials.json` (or a link to it) would
 * otherwise have the operator's file bundled into its own output.
 */
export function confineTo(root: string): Plugin {
  const base = realpathSync(root);
  const inside = (p: string) => p === base || p.startsWith(base + sep);
  return {
    name: 'pier-confine',
    setup(b) {
      b.onLoad({ filter: /.*/ }, (args) => {
        let real: string;
        try { real = realpathSync(args.path); } catch { real = args.path; }
        if (args.namespace === 'file' && !inside(real)) {
          return { errors: [{ text: `${args.path} is outside the function's source: a handler may import only files of its own source` }] };
        }
        return undefined;
      });
    },
  };
}

async function bundle(root: string, entry: string, outfile: string): Promise<void> {
  try {
    const result = await build({
      entryPoints: [entry], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm',
      target: NODE_TARGET, logLevel: 'silent', write: true, minify: false, legalComments: 'none',
      // No tsconfig is read: its `extends` could name any file of the host.
      tsconfigRaw: {}, plugins: [confineTo(root)],
    });
    if (result.errors.length) throw new Error(formatMessages(result.errors));
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    throw new Error(errors?.length ? `compiling the handler failed:\n${formatMessages(errors)}` : (err as Error).message);
  }
}

let wrapperJs: Promise<string> | undefined;

/** The Node wrapper compiled to JavaScript (once per Pier process). */
export function nodeWrapperSource(): Promise<string> {
  wrapperJs ??= (async () => {
    const result = await build({
      entryPoints: [join(WRAPPERS, 'node.ts')], bundle: true, platform: 'node', format: 'esm', target: NODE_TARGET,
      write: false, logLevel: 'silent', legalComments: 'none',
    });
    return `// Pier's function wrapper (generated from src/build/functions/wrappers/node.ts).\n${result.outputFiles[0]!.text}`;
  })();
  wrapperJs.catch(() => { wrapperJs = undefined; });
  return wrapperJs;
}

/** Writes the wrapper and the compiled handler into `<dir>/.pier/function/`. */
export async function prepareFunction(dir: string, fn: FunctionSource): Promise<void> {
  const out = join(dir, FUNCTION_DIR);
  mkdirSync(out, { recursive: true });
  if (fn.language === 'python') {
    copyFileSync(join(WRAPPERS, 'python.py'), join(out, 'wrapper.py'));
    return;
  }
  await bundle(dir, join(dir, fn.handler), join(out, 'handler.mjs'));
  writeFileSync(join(out, 'wrapper.mjs'), await nodeWrapperSource());
}

/** The plan of a source; when it is a function, the wrapper and compiled handler are written into `dir` first. */
export async function planSource(
  dir: string, files: FileView, o: PlanOverrides, target: BuildTarget, log: (line: string) => void,
): Promise<BuildPlan> {
  const { plan, fn } = detectSource(files, o, target);
  if (!fn) return plan;
  log(`Detected a ${languageName(fn)} function (${fn.handler}); Pier's ${fn.language === 'python' ? 'Python' : 'Node'} wrapper serves it`);
  const started = performance.now();
  await prepareFunction(dir, fn);
  if (fn.language !== 'python') {
    const size = readFileSync(join(dir, FUNCTION_DIR, 'handler.mjs')).length;
    log(`Compiled ${fn.handler} into ${FUNCTION_DIR}/handler.mjs (${size} bytes) in ${Math.round(performance.now() - started)} ms`);
  }
  return plan;
}
