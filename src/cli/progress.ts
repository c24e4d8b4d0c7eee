// What `--wait` shows while a deployment comes up. On a terminal: the build's lines as they arrive and one live
// status line under them (spinner, status, elapsed time, current step) redrawn in place. Elsewhere: plain lines
// only, one per status change and one per build line, so logs and CI output stay greppable.
import type { CliIO } from './command.ts';
import { formatDuration } from './duration.ts';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

/** A build line that names the step it starts (a command, a Dockerfile step, a builder phase), as a short label. */
export function stepOf(line: string): string | undefined {
  const t = line.trim();
  if (/^\$ /.test(t) || /^Step \d+\/\d+/.test(t) || /^#\d+ \[/.test(t) || /^(-----|==)> /.test(t) || /^Building /.test(t)) return t;
  return undefined;
}

/** The status line's text (without colours), cut to the terminal's width. */
export function statusText(frame: number, status: string, elapsedMs: number, step: string | undefined, columns: number): string {
  const seconds = Math.floor(elapsedMs / 1000);
  const parts = [`${FRAMES[frame % FRAMES.length]} ${status}`, seconds ? formatDuration(seconds * 1000) : '0s', ...(step ? [step] : [])];
  const text = parts.join(' · ');
  const width = Math.max(20, columns - 1);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** The progress display of one wait. */
export class Progress {
  private readonly io: CliIO;
  private readonly live: boolean;
  private readonly started: number;
  private status = 'PENDING';
  private step: string | undefined;
  private frame = 0;
  private drawn = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(io: CliIO) {
    this.io = io;
    this.live = io.stderrIsTTY;
    this.started = io.now();
    // Redraw every 100 ms on a terminal so the spinner and the elapsed time move even when nothing is printed.
    if (this.live) this.timer = setInterval(() => this.draw(), 100);
  }

  /** A new status: its line (with the latest message) stays in the history, and the status line shows it. */
  setStatus(status: string, statusLine: string): void {
    // A build step means nothing once the deployment has moved on (allocating, starting).
    if (status !== this.status && status !== 'PENDING' && status !== 'PROVISIONING') this.step = undefined;
    this.status = status;
    this.line(statusLine);
  }

  /** A build line: printed above the status line; a line that starts a step becomes the status line's step. */
  buildLine(msg: string): void {
    this.step = stepOf(msg) ?? this.step;
    this.line(`build | ${msg}`);
  }

  /** A line that stays (e.g. the final status), above the status line. */
  line(text: string): void {
    this.clear();
    this.io.stderr(`${text}\n`);
    this.draw();
  }

  /** Removes the status line and stops redrawing; call once the wait ends. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private clear(): void {
    if (this.live && this.drawn) this.io.stderr(CLEAR_LINE);
    this.drawn = false;
  }

  private draw(): void {
    if (!this.live || !this.timer) return;
    const columns = Number(this.io.env.COLUMNS) || process.stderr.columns || 80;
    this.io.stderr(`${CLEAR_LINE}${statusText(this.frame++, this.status, this.io.now() - this.started, this.step, columns)}`);
    this.drawn = true;
  }
}
