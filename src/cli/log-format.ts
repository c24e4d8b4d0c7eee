// PURE: how a log line looks: `<UTC time> <instance> <stream>  <message>`, coloured on a terminal (each instance its
// own colour, stderr red, Pier's own lines (stream `koyeb`) yellow and labelled `pier`), or the bare message with --raw.
import type { LogEntry } from '../domain/types.ts';

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';
const INSTANCE_COLOURS = ['\x1b[36m', '\x1b[32m', '\x1b[35m', '\x1b[34m', '\x1b[96m', '\x1b[92m'];

/** How to print lines. */
export interface LogFormat {
  colour: boolean;
  raw: boolean;
}

/** A stable colour per instance id, so one instance's lines read as one column of colour. */
function instanceColour(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return INSTANCE_COLOURS[h % INSTANCE_COLOURS.length]!;
}

/** One log entry as a line (without the newline). */
export function formatLogEntry(entry: LogEntry, f: LogFormat): string {
  if (f.raw) return entry.msg;
  const t = Date.parse(entry.created_at);
  const time = Number.isNaN(t) ? entry.created_at : new Date(t).toISOString().replace('T', ' ').replace('Z', '');
  const labels = entry.labels ?? {};
  const instance = (labels.instance_id || (labels.type === 'build' ? 'build' : '-')).slice(0, 8).padEnd(8);
  // Pier's own lines carry Koyeb's stream name `koyeb` in the API; on screen they are Pier's.
  const stream = (labels.stream === 'koyeb' ? 'pier' : labels.stream || '-').padEnd(6);
  if (!f.colour) return `${time} ${instance} ${stream} ${entry.msg}`;
  const streamColour = labels.stream === 'stderr' ? RED : labels.stream === 'koyeb' ? YELLOW : DIM;
  const msg = labels.stream === 'stderr' ? `${RED}${entry.msg}${RESET}` : entry.msg;
  return `${DIM}${time}${RESET} ${instanceColour(labels.instance_id ?? '')}${instance}${RESET} ${streamColour}${stream}${RESET} ${msg}`;
}

/** Whether to colour output: a terminal, and neither NO_COLOR nor TERM=dumb set. */
export function wantsColour(isTTY: boolean, env: Record<string, string | undefined>): boolean {
  return isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
}
