// .dockerignore and .gitignore rules, compiled once: the last matching rule wins, `!` re-includes, a rule that
// matches a directory excludes everything below it. Docker's rules are anchored at the context root; git's rules
// without a slash match at any depth. Pure: the caller reads the files.

/** One compiled rule. */
interface Rule { re: RegExp; negate: boolean; dirOnly: boolean }

/** Decides whether a context-relative path (slash-separated, no leading slash) is excluded. */
export interface IgnoreMatcher { ignores(path: string, isDir: boolean): boolean }

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      re += '[' + glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) { re += '\\' + glob[++i]; }
    else re += /[.+^${}()|\\]/.test(c) ? '\\' + c : c;
  }
  return re;
}

/** Compiles the lines of an ignore file. `style` docker anchors every rule at the root; git only those with a slash. */
export function compileIgnore(text: string, style: 'docker' | 'git'): IgnoreMatcher {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = style === 'git' ? raw.replace(/(?<!\\)\s+$/, '') : raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    line = line.replace(/\/+$/, '');
    if (style === 'docker') line = line.replace(/^(\.\/)+/, '');
    const anchored = style === 'docker' || line.includes('/');
    line = line.replace(/^\/+/, '');
    if (!line) continue;
    const body = globToRegex(line);
    rules.push({ re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`), negate, dirOnly });
  }
  return {
    ignores(path, isDir) {
      let ignored = false;
      const parts = path.split('/');
      // A path is excluded when it, or one of its parent directories, matches (last rule wins at each level).
      for (let n = 1; n <= parts.length; n++) {
        const prefix = parts.slice(0, n).join('/');
        const prefixIsDir = n < parts.length || isDir;
        for (const r of rules) {
          if (r.dirOnly && !prefixIsDir) continue;
          if (r.re.test(prefix)) ignored = !r.negate;
        }
        if (ignored && n < parts.length && !rules.some((r) => r.negate)) return true;
      }
      return ignored;
    },
  };
}

/** Matches nothing. */
export const ignoreNothing: IgnoreMatcher = { ignores: () => false };
