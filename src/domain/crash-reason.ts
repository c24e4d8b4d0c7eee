// Why a workload crashed, from the last lines it printed: the runtime's own error line and the first frame that is
// the app's code, not the last line printed (Node ends every crash with its version banner, Go with frames, Python
// with the error but after the frames). One pure function per language the buildpacks support, then a generic rule.

/** One line a workload printed, as the runtime contract's logs yield it (the time is not needed here). */
export interface OutputLine { stream: 'stdout' | 'stderr'; line: string }

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
/** Lines that close a crash without saying anything about it. */
const BANNER = /^(Node\.js v\d+\S*|exit status \d+|npm (ERR!|error) .*|\s*\^+\s*|[\s{}[\]();,]*)$/;
const NODE_ERROR = /^(Uncaught )?([A-Z][\w$]*)?(Error|Exception)( \[[\w-]+\])?(: .*)?$/;
const NODE_FRAME = /^\s+at (.+)$/;
const NODE_LOCATION = /^(\/|file:|\[eval\]|[A-Za-z]:\\)\S*:\d+$/;
const PY_ERROR = /^([A-Za-z_][\w.]*)?(Error|Exception|Exit|Interrupt|Warning)(: .*)?$/;
const PY_FRAME = /^\s+File "([^"]+)", line (\d+)(?:, in (.+))?$/;
const GO_PANIC = /^(panic: |fatal error: )/;
/** The closing line of Pier's function wrappers (src/build/functions/wrappers) when a handler cannot be loaded. */
const WRAPPER_LINE = /^cannot load the function handler: /;

/**
 * The crash's meaningful lines as one sentence, e.g. "TypeError: x is undefined (at boom (/app/a.js:1:24))" or
 * "panic: runtime error: index out of range [5] with length 2 (at main.handler /app/main.go:5)"; '' when the
 * workload printed nothing useful. `lines` are the last lines of the workload, oldest first.
 */
export function crashReason(lines: readonly OutputLine[]): string {
  const all = lines.map((l) => ({ stream: l.stream, text: l.line.replace(ANSI, '').replace(/\r$/, '') }));
  const texts = all.map((l) => l.text);
  // Pier's function wrappers end a failed start with one sentence of their own, after the stack: it wins.
  const last = lastMeaningful(all);
  if (WRAPPER_LINE.test(last)) return last;
  return goPanic(texts) ?? pythonError(texts) ?? nodeError(texts) ?? last;
}

/** Go: the last `panic:` (or `fatal error:`) line and the first goroutine frame outside the Go runtime. */
function goPanic(lines: string[]): string | undefined {
  const at = lastIndex(lines, (l) => GO_PANIC.test(l));
  if (at < 0) return undefined;
  let frame: string | undefined;
  const g = lines.findIndex((l, i) => i > at && /^goroutine \d+ \[/.test(l));
  for (let i = g + 1; g >= 0 && i + 1 < lines.length && i < g + 40; i++) {
    const fn = lines[i]!;
    const file = lines[i + 1]!;
    if (fn.startsWith('\t') || !file.startsWith('\t')) continue;
    if (/^(runtime\.|panic\()/.test(fn)) { i++; continue; }
    frame = `${fn.replace(/\(.*\)$/, '')} ${file.trim().replace(/ \+0x[0-9a-f]+$/, '')}`;
    break;
  }
  return withFrame(lines[at]!, frame);
}

/** Python: the exception line that ends a traceback (or a SyntaxError report) and the frame right above it. */
function pythonError(lines: string[]): string | undefined {
  for (let at = lines.length - 1; at >= 0; at--) {
    if (!PY_ERROR.test(lines[at]!)) continue;
    // A Python error line has a `File "...", line N` a few lines above it and no JavaScript frame below it.
    if (NODE_FRAME.test(lines[at + 1] ?? '')) return undefined;
    for (let i = at - 1; i >= 0 && i >= at - 6; i--) {
      const m = PY_FRAME.exec(lines[i]!);
      if (m) return withFrame(lines[at]!, `${m[1]}:${m[2]}${m[3] ? ` in ${m[3]}` : ''}`);
    }
    return undefined;
  }
  return undefined;
}

/** Node: the thrown error's line (not the version banner after it) and its first frame in the app's own code. */
function nodeError(lines: string[]): string | undefined {
  const at = lastIndex(lines, (l) => NODE_ERROR.test(l));
  if (at < 0) return undefined;
  const next = lines[at + 1] ?? '';
  if (next.trim() && !NODE_FRAME.test(next) && !/^\w+:|^\{?\s*$|^Require stack:/.test(next)) return undefined;
  let frame: string | undefined;
  for (let i = at + 1; i < lines.length && i < at + 30; i++) {
    const m = NODE_FRAME.exec(lines[i]!);
    if (m && !/\bnode:|^node:/.test(m[1]!)) { frame = m[1]; break; }
  }
  // A SyntaxError has no frame in the app: Node names the file and line above the error instead.
  if (!frame) {
    for (let i = at - 1; i >= 0 && i >= at - 8; i--) {
      if (NODE_LOCATION.test(lines[i]!)) { frame = lines[i]; break; }
    }
  }
  return withFrame(lines[at]!, frame);
}

/** Anything else: the last non-empty line that is not a banner, stderr before stdout. */
function lastMeaningful(lines: { stream: string; text: string }[]): string {
  const ok = (l: { text: string }): boolean => l.text.trim() !== '' && !BANNER.test(l.text.trim());
  const i = lastIndex(lines, (l) => l.stream === 'stderr' && ok(l));
  const j = i >= 0 ? i : lastIndex(lines, ok);
  return j >= 0 ? lines[j]!.text.trim() : '';
}

function withFrame(error: string, frame: string | undefined): string {
  return frame ? `${error.trim()} (at ${frame.trim()})` : error.trim();
}

function lastIndex<T>(xs: readonly T[], pred: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (pred(xs[i]!)) return i;
  return -1;
}
