// .dockerignore and .gitignore rules through well-kept libraries, not a hand-written glob matcher (a wrong match
// uploads a secret or drops a file): `.dockerignore` by @balena/dockerignore, a port of Docker's own matcher (rules
// anchored at the context root, `*` stays in one directory, a trailing `/` is cleaned away so `docs/` also excludes
// a file named docs, `!` re-includes even below an excluded directory); `.gitignore` by `ignore`, which follows git
// (a rule without a slash matches at any depth, a trailing `/` matches directories only, nothing below an excluded
// directory can be re-included). Pure: the caller reads the files.
import dockerignoreModule from '@balena/dockerignore';
import gitignore from 'ignore';

// The package is CommonJS with `factory.default = factory`; its typings describe only the `.default` export.
const dockerignore = dockerignoreModule.default;

/** Decides whether a context-relative path (slash-separated, no leading slash) is excluded. */
export interface IgnoreMatcher {
  ignores(path: string, isDir: boolean): boolean;
  /**
   * False when nothing below an excluded directory can be kept (git's rules, or Docker rules without `!`), so a
   * walk need not enter it (node_modules). Absent means it may.
   */
  reincludes?: boolean;
}

/** Compiles the lines of an ignore file. */
export function compileIgnore(text: string, style: 'docker' | 'git'): IgnoreMatcher {
  if (style === 'docker') {
    const lines = text.split(/\r?\n/);
    const m = dockerignore({ ignorecase: false }).add(lines);
    return {
      // Docker's matcher takes paths without a trailing slash (a directory is named as Docker walks it).
      ignores: (path) => m.ignores(path),
      reincludes: lines.some((l) => l.trim().startsWith('!')),
    };
  }
  const m = gitignore({ ignorecase: false }).add(text);
  return { ignores: (path, isDir) => m.ignores(isDir ? `${path}/` : path), reincludes: false };
}

/** Matches nothing. */
export const ignoreNothing: IgnoreMatcher = { ignores: () => false, reincludes: false };
