// A small argv parser: long and short flags, `--flag=value` and `--flag value`, repeatable list flags, bool flags,
// aliases and `--`. No framework, so the command table stays the single source for parsing and --help.

/** How a flag takes its value. `list` flags are repeatable and keep every value in order. */
export type FlagKind = 'bool' | 'string' | 'int' | 'list';

/** One flag a command accepts. */
export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  short?: string;
  aliases?: string[];
  /** Name of the value in --help, e.g. IMAGE. */
  placeholder?: string;
  /** Shown in --help only; commands apply defaults themselves so "not given" stays detectable. */
  defaultText?: string;
  /** For list flags: also split each value on commas (`--regions fra,was`). */
  split?: boolean;
}

/** A bad command line: unknown flag, missing value, bad number. Exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The result of parsing: positionals plus the flags that were given, keyed by canonical name. */
export class ParsedArgs {
  readonly positionals: string[];
  private readonly values: Map<string, string | boolean | string[]>;

  constructor(positionals: string[], values: Map<string, string | boolean | string[]>) {
    this.positionals = positionals;
    this.values = values;
  }

  /** Whether the flag appeared on the command line (even with an empty value). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The string value of a string or int flag, or undefined when not given. */
  str(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  /** The value of a bool flag; false when not given. */
  bool(name: string): boolean {
    return this.values.get(name) === true;
  }

  /** Every value of a list flag, or undefined when not given. */
  list(name: string): string[] | undefined {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : undefined;
  }

  /** The value of an int flag, or undefined when not given (the parser already checked it is an integer). */
  int(name: string): number | undefined {
    const v = this.str(name);
    return v === undefined ? undefined : Number(v);
  }
}

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);

/** Parses argv against the given flags. Throws UsageError on anything it cannot make sense of. */
export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byLong.set(spec.name, spec);
    for (const alias of spec.aliases ?? []) byLong.set(alias, spec);
    if (spec.short) byShort.set(spec.short, spec);
  }
  const positionals: string[] = [];
  const values = new Map<string, string | boolean | string[]>();

  const store = (spec: FlagSpec, shown: string, raw: string | undefined): void => {
    if (spec.kind === 'bool') {
      if (raw === undefined) values.set(spec.name, true);
      else if (TRUE_WORDS.has(raw.toLowerCase())) values.set(spec.name, true);
      else if (FALSE_WORDS.has(raw.toLowerCase())) values.set(spec.name, false);
      else throw new UsageError(`flag ${shown} takes true or false, not "${raw}"`);
      return;
    }
    if (raw === undefined) throw new UsageError(`flag ${shown} needs a value`);
    if (spec.kind === 'int' && !/^-?\d+$/.test(raw)) throw new UsageError(`flag ${shown} needs an integer, not "${raw}"`);
    if (spec.kind === 'list') {
      const prev = (values.get(spec.name) as string[] | undefined) ?? [];
      const parts = spec.split ? raw.split(',').filter((p) => p !== '') : [raw];
      values.set(spec.name, [...prev, ...parts]);
    } else {
      values.set(spec.name, raw);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = eq === -1 ? tok.slice(2) : tok.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(unknownFlagMessage(`--${name}`, specs));
      let raw: string | undefined = eq === -1 ? undefined : tok.slice(eq + 1);
      if (raw === undefined && spec.kind !== 'bool') {
        if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value`);
        raw = argv[++i];
      }
      store(spec, `--${name}`, raw);
    } else if (tok.startsWith('-') && tok.length > 1) {
      const letter = tok[1]!;
      const spec = byShort.get(letter);
      if (!spec) throw new UsageError(unknownFlagMessage(tok, specs));
      let raw: string | undefined;
      if (tok.length > 2) raw = tok[2] === '=' ? tok.slice(3) : tok.slice(2);
      if (spec.kind === 'bool' && raw !== undefined && !tok.startsWith(`-${letter}=`)) {
        throw new UsageError(`flag -${letter} takes no value (got "${tok}")`);
      }
      if (raw === undefined && spec.kind !== 'bool') {
        if (i + 1 >= argv.length) throw new UsageError(`flag -${letter} needs a value`);
        raw = argv[++i];
      }
      store(spec, `-${letter}`, raw);
    } else {
      positionals.push(tok);
    }
  }
  return new ParsedArgs(positionals, values);
}

/** "unknown flag --prot; did you mean --port?" */
function unknownFlagMessage(shown: string, specs: FlagSpec[]): string {
  const names = specs.flatMap((s) => [s.name, ...(s.aliases ?? [])]);
  const guess = shown.startsWith('--') ? closest(shown.slice(2), names) : undefined;
  return guess ? `unknown flag ${shown}; did you mean --${guess}?` : `unknown flag ${shown}`;
}

/** The candidate nearest to `word` by edit distance, if it is near enough to be a plausible typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 1 : editDistance(word, c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
