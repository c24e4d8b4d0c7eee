// The server log of `pier up` through pino (issue #21 item 10): every line the platform logs (start-up, operator
// lines from operator-log.ts, component errors) goes through one pino logger, so levels, timestamps and redaction
// live in one place. On a terminal (the default, PIER_LOG_FORMAT=text) it prints the familiar one line
// `pier: <message>`; with PIER_LOG_FORMAT=json one JSON object a line (pino's: level, time, pid, hostname, msg)
// for a log shipper. Before anything is written, secrets are redacted: API tokens (`pier_...`), the password of a
// URL (`postgres://pier:***@db`), `Bearer` credentials, the known values handed in, and structured fields named like
// secrets.
import { pino, type DestinationStream, type Logger } from 'pino';
import { createRedactor } from '../domain/redact.ts';

/** What callers log with: a line (the `pier: ` prefix optional), plus the pino logger for structured records. */
export interface ServerLog {
  (line: string): void;
  logger: Logger;
}

export interface ServerLogOptions {
  format: 'text' | 'json';
  /** Where lines go (default stderr). */
  destination?: { write(text: string): unknown };
  /** Secret values to hide in every form redact.ts knows (the bootstrap token, for one). */
  secrets?: readonly string[];
}

const MARKER = '[redacted]';
/**
 * Pier API tokens (generateToken: `pier_` + 43 base64url characters, random, so with a capital or a digit), not
 * identifiers such as pier_api_request_duration_seconds.
 */
const TOKEN = /\bpier_(?=[A-Za-z0-9_-]{0,42}[A-Z0-9])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
/** The password of a URL's userinfo: `scheme://user:password@`. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi;
/** `Authorization: Bearer <credential>` and the like. */
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** Structured fields never written as they are (pino's redact paths). */
const REDACT_PATHS = ['token', 'password', 'secret', 'authorization', 'value', '*.token', '*.password', '*.secret', '*.authorization', 'headers.authorization'];

/** Hides the secrets a server line may carry. */
export function redactLine(line: string, known: (line: string) => string = (l) => l): string {
  return known(line).replace(TOKEN, `pier_${MARKER}`).replace(URL_PASSWORD, `$1${MARKER}@`).replace(BEARER, `$1 ${MARKER}`);
}

/** The operator lines that report trouble (operator-log.ts's wording): warnings, which already say so. */
const TROUBLE = /^(deployment failed|crashed|crash loop): /;

function levelOf(message: string): 'info' | 'warn' {
  return TROUBLE.test(message) ? 'warn' : 'info';
}

/** A server log writing `format` to `destination`. */
export function createServerLog(opts: ServerLogOptions): ServerLog {
  const out = opts.destination ?? process.stderr;
  const known = createRedactor(opts.secrets ?? [], MARKER);
  // Text: pino hands each record as one JSON line; print its message the way pier up always has.
  const text: DestinationStream = {
    write(record: string) {
      const { msg, level } = JSON.parse(record) as { msg?: string; level: number };
      const message = msg ?? '';
      // A warning or error that does not say so itself is labelled ("pier: error: ...").
      const label = level >= 40 && !TROUBLE.test(message) ? `${pino.levels.labels[level]}: ` : '';
      out.write(`pier: ${label}${message}\n`);
    },
  };
  const json: DestinationStream = { write: (record: string) => { out.write(record); } };
  const logger = pino({
    name: 'pier',
    level: 'info',
    redact: { paths: REDACT_PATHS, censor: MARKER },
    hooks: {
      // Every string argument (the message and its printf arguments) is redacted before pino formats it.
      logMethod(args, method) {
        return method.apply(this, args.map((a) => (typeof a === 'string' ? redactLine(a, known) : a)) as Parameters<typeof method>);
      },
    },
  }, opts.format === 'json' ? json : text);
  const log = ((line: string) => {
    const message = line.replace(/^pier: /, '');
    logger[levelOf(message)](message);
  }) as ServerLog;
  log.logger = logger;
  return log;
}
