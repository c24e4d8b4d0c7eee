// The command table's shape, the global flags, the per-run context and the dispatcher that walks argv down the
// table, parses flags, prints --help from the same table, and turns errors into one line plus an exit code.
import { readFileSync } from 'node:fs';
import { closest, parseArgs, UsageError, type FlagSpec, type ParsedArgs } from './args.ts';
import { ApiClient } from './client.ts';
import { CliError } from './errors.ts';
import { resolveSettings } from './settings.ts';

/** Everything the CLI touches outside itself, injectable so tests run commands in-process. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  readFile(path: string): string;
  readStdin(): Promise<string>;
  /** Registers a Ctrl-C/SIGTERM handler; returns a function that unregisters it. */
  onInterrupt(handler: () => void): () => void;
  now(): number;
  /** Poll interval for --wait (2 s by default; tests shorten it). */
  pollIntervalMs: number;
  /** Whether stdout and stderr are terminals: colours and the live status line only appear there. */
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

/** The default IO: the real process. */
export function processIO(): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    readFile: (p) => readFileSync(p, 'utf8'),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    onInterrupt: (handler) => {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
    now: () => Date.now(),
    pollIntervalMs: 2000,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
  };
}

/** Output formats of `-o`. */
export type OutputFormat = 'table' | 'json' | 'yaml';

/** What a command's run function receives. */
export interface Ctx {
  io: CliIO;
  args: ParsedArgs;
  output: OutputFormat;
  full: boolean;
  /** The command path, e.g. "pier services create", for messages. */
  path: string;
  client(): ApiClient;
  /** Prints a line to stdout. */
  out(line: string): void;
  /** Prints a line to stderr (progress, warnings). */
  err(line: string): void;
}

/** One node of the command table: a group (subcommands), a leaf (run), or both (e.g. `services scale`). */
export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  /** Positional arguments for --help, e.g. "NAME". */
  usage?: string;
  /** Accepted positional count [min, max]. */
  args?: [number, number];
  flags?: FlagSpec[];
  examples?: string[];
  run?: (ctx: Ctx) => Promise<number | void>;
  subcommands?: Command[];
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'url', kind: 'string', placeholder: 'URL', help: 'API URL (env PIER_URL, else credentials.json, else http://127.0.0.1:7700)' },
  { name: 'token', kind: 'string', placeholder: 'TOKEN', help: 'API token (env PIER_TOKEN, else credentials.json)' },
  { name: 'output', short: 'o', kind: 'string', placeholder: 'FORMAT', help: 'Output format: table, json or yaml', defaultText: 'table' },
  { name: 'debug', short: 'd', kind: 'bool', help: 'Print HTTP requests and responses to stderr (token hidden)' },
  { name: 'full', kind: 'bool', help: 'Do not truncate ids and messages' },
  { name: 'help', short: 'h', kind: 'bool', help: 'Show help' },
];

/** Global flags minus those a command redefines (e.g. `up --token` is the bootstrap token, not the client's). */
function globalFlagsFor(cmd: Command): FlagSpec[] {
  const own = new Set((cmd.flags ?? []).map((f) => f.name));
  return GLOBAL_FLAGS.filter((f) => !own.has(f.name));
}

function matches(cmd: Command, word: string): boolean {
  return cmd.name === word || (cmd.aliases ?? []).includes(word);
}

/** Runs argv against the command table and returns the exit code. Never throws. */
export async function dispatch(root: Command, argv: string[], io: CliIO): Promise<number> {
  const path: Command[] = [root];
  const rest: string[] = [];
  const valueFlags = new Set(GLOBAL_FLAGS.filter((f) => f.kind !== 'bool').flatMap((f) => [`--${f.name}`, f.short ? `-${f.short}` : '']));
  let descending = true;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (tok.startsWith('-')) {
      rest.push(tok);
      if (valueFlags.has(tok) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    const node = path[path.length - 1]!;
    const child = descending ? node.subcommands?.find((c) => matches(c, tok)) : undefined;
    if (child) {
      path.push(child);
      continue;
    }
    if (descending && node.subcommands && !node.run) {
      const guess = closest(tok, node.subcommands.flatMap((c) => [c.name, ...(c.aliases ?? [])]));
      return fail(io, new UsageError(`unknown command "${tok}" for "${commandPath(path)}"${guess ? `; did you mean "${guess}"?` : ''}`), path);
    }
    descending = false;
    rest.push(tok);
  }
  const cmd = path[path.length - 1]!;
  let args: ParsedArgs;
  try {
    args = parseArgs(rest, [...(cmd.flags ?? []), ...globalFlagsFor(cmd)]);
  } catch (err) {
    return fail(io, err, path);
  }
  if (args.bool('help') || !cmd.run) {
    io.stdout(helpText(path));
    return 0;
  }
  const [min, max] = cmd.args ?? [0, 0];
  if (args.positionals.length < min || args.positionals.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    return fail(io, new UsageError(`"${commandPath(path)}" takes ${want} argument(s) (${cmd.usage ?? 'none'}), got ${args.positionals.length}`), path);
  }
  // A command that redefines --output (backup's FILE) has no output format.
  const output = ((cmd.flags ?? []).some((f) => f.name === 'output') ? 'table' : args.str('output') ?? 'table') as OutputFormat;
  if (!['table', 'json', 'yaml'].includes(output)) {
    return fail(io, new UsageError(`-o/--output must be table, json or yaml, not "${output}"`), path);
  }
  let client: ApiClient | undefined;
  const ctx: Ctx = {
    io,
    args,
    output,
    full: args.bool('full'),
    path: commandPath(path),
    client: () => {
      if (!client) {
        const s = resolveSettings({ url: args.str('url'), token: args.str('token') }, io.env, io.readFile);
        client = new ApiClient(s.url, s.token, args.bool('debug') ? (l) => io.stderr(`${l}\n`) : undefined);
      }
      return client;
    },
    out: (line) => io.stdout(`${line}\n`),
    err: (line) => io.stderr(`${line}\n`),
  };
  try {
    return (await cmd.run(ctx)) ?? 0;
  } catch (err) {
    return fail(io, err, path);
  }
}

function fail(io: CliIO, err: unknown, path: Command[]): number {
  if (err instanceof UsageError) {
    io.stderr(`error: ${err.message}\nRun '${commandPath(path)} --help' for usage.\n`);
    return 2;
  }
  if (err instanceof CliError) {
    io.stderr(`error: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join('')}`);
    return err.exitCode;
  }
  io.stderr(`error: ${(err as Error)?.message ?? String(err)}\n`);
  return 1;
}

function commandPath(path: Command[]): string {
  return path.map((c) => c.name).join(' ');
}

function flagLines(flags: FlagSpec[]): string[] {
  const left = flags.map((f) => {
    const names = [f.short ? `-${f.short}, ` : '    ', `--${f.name}`].join('');
    return `  ${names}${f.kind === 'bool' ? '' : ` ${f.placeholder ?? 'VALUE'}`}`;
  });
  const width = Math.max(0, ...left.map((l) => l.length)) + 2;
  return flags.map((f, i) => {
    const extra = [
      f.kind === 'list' ? 'repeatable' : '',
      f.aliases?.length ? `alias ${f.aliases.map((a) => `--${a}`).join(', ')}` : '',
      f.defaultText ? `default ${f.defaultText}` : '',
    ].filter(Boolean);
    return `${left[i]!.padEnd(width)}${f.help}${extra.length ? ` (${extra.join('; ')})` : ''}`;
  });
}

/** The --help text of a command, generated from the table. */
export function helpText(path: Command[]): string {
  const cmd = path[path.length - 1]!;
  const name = commandPath(path);
  const lines = [cmd.summary, ''];
  if (cmd.run) lines.push(`Usage: ${name}${cmd.usage ? ` ${cmd.usage}` : ''} [flags]`);
  if (cmd.subcommands?.length) lines.push(`Usage: ${name} COMMAND [flags]`);
  if (cmd.aliases?.length) lines.push(`Aliases: ${cmd.aliases.join(', ')}`);
  if (cmd.subcommands?.length) {
    lines.push('', 'Commands:');
    const width = Math.max(...cmd.subcommands.map((c) => c.name.length)) + 2;
    for (const c of cmd.subcommands) lines.push(`  ${c.name.padEnd(width)}${c.summary}`);
  }
  if (cmd.flags?.length) lines.push('', 'Flags:', ...flagLines(cmd.flags));
  lines.push('', 'Global flags:', ...flagLines(globalFlagsFor(cmd)));
  if (cmd.examples?.length) lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  if (cmd.subcommands?.length) lines.push('', `Run '${name} COMMAND --help' for a command's flags.`);
  return `${lines.join('\n')}\n`;
}
