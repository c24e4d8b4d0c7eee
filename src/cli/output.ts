// Rendering: aligned tables with short ids and relative ages, key/value blocks for describe, and raw JSON/YAML.
import YAML from 'yaml';
import type { Ctx } from './command.ts';

/** Renders rows as aligned columns under upper-case headers. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** The 8-character short id the CLI accepts back, unless --full. */
export function shortId(id: string | undefined | null, full: boolean): string {
  if (!id) return '-';
  return full ? id : id.slice(0, 8);
}

/** "12s ago", "5m ago", "3h ago", "2d ago". */
export function age(iso: string | undefined | null, now: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Cuts text to `max` characters with an ellipsis, unless --full. */
export function truncate(text: string, max: number, full: boolean): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return full || one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/** Renders `[label, value]` pairs as an aligned block. */
export function renderKeyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
}

/** Prints an API object raw for -o json|yaml. Returns false for table output, so the caller renders it. */
export function printRaw(ctx: Ctx, value: unknown): boolean {
  if (ctx.output === 'json') {
    ctx.out(JSON.stringify(value, null, 2));
    return true;
  }
  if (ctx.output === 'yaml') {
    ctx.io.stdout(YAML.stringify(value));
    return true;
  }
  return false;
}

/** Prints rows as a table, or the raw API object for -o json|yaml. */
export function printList<T>(ctx: Ctx, raw: unknown, items: T[], headers: string[], row: (item: T) => string[]): void {
  if (printRaw(ctx, raw)) return;
  ctx.out(renderTable(headers, items.map(row)));
}

/** YAML text of a value, for definitions inside describe output. */
export function toYaml(value: unknown): string {
  return YAML.stringify(value).trimEnd();
}
