// How many connections a listener of this process may hold: each proxied connection costs two file descriptors (the
// client's and the instance's), and the edge, the TCP proxy and the control plane share one process's open-file
// limit. Node raises its soft limit to the hard one at start, so /proc/self/limits says what there is.
import { readFileSync } from 'node:fs';

/**
 * A quarter of the process's open-file limit (each connection holds two descriptors, so half of them at most for
 * one listener kind), at least 256; 4,096 when the limit cannot be read, 262,144 when it is unlimited.
 */
export function connectionBudget(limitsText?: string): number {
  let text = limitsText;
  try { text ??= readFileSync('/proc/self/limits', 'utf8'); } catch { return 4096; }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return 4096;
  if (m[1] === 'unlimited') return 262_144;
  return Math.max(256, Math.floor(Number(m[1]) / 4));
}
